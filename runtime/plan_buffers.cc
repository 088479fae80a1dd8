#include "runtime/plan_buffers.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <tuple>
#include <utility>

#include "graph/error.h"

namespace rowflow::plan_internal {
namespace {

// Stages joined along heir links (union-find by size, path halving). Each
// set holds a pool of free buffers that its newest stage, Top(), and that
// stage's descendants may take. Pools are circular doubly linked lists over
// buffer ids with one sentinel per stage, so joining two pools and taking
// any buffer out of its pool are O(1).
class HeirSets {
 public:
  HeirSets(int stages, int buffers)
      : parent_(stages),
        size_(stages, 1),
        top_(stages),
        next_(buffers + stages),
        prev_(buffers + stages),
        in_pool_(buffers, false),
        buffers_(buffers) {
    for (int s = 0; s < stages; ++s) parent_[s] = top_[s] = s;
    for (size_t i = 0; i < next_.size(); ++i) next_[i] = prev_[i] = i;
  }

  int Top(int s) { return top_[Find(s)]; }

  // Joins the set of `d` (a stage no heir has claimed yet) into that of
  // `s`, its heir, which tops the union.
  void Join(int s, int d) {
    int a = Find(s), b = Find(d);
    if (a == b) return;
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = a;
    size_[a] += size_[b];
    top_[a] = s;
    const int sa = Sentinel(a), sb = Sentinel(b);
    if (next_[sb] == sb) return;
    const int first = next_[sb], last = prev_[sb], a_last = prev_[sa];
    next_[a_last] = first;
    prev_[first] = a_last;
    next_[last] = sa;
    prev_[sa] = last;
    next_[sb] = prev_[sb] = sb;
  }

  // Puts `buffer` first in the pool of `s`'s set.
  void Free(int s, int buffer) {
    const int head = Sentinel(Find(s));
    next_[buffer] = next_[head];
    prev_[buffer] = head;
    prev_[next_[head]] = buffer;
    next_[head] = buffer;
    in_pool_[buffer] = true;
  }

  // The buffer freed last into the pool of `s`'s set, taken out, or -1.
  int Take(int s) {
    const int buffer = next_[Sentinel(Find(s))];
    if (buffer >= buffers_) return -1;
    Remove(buffer);
    return buffer;
  }

  // Takes `buffer` out of whichever pool holds it, if one does.
  void Remove(int buffer) {
    if (!in_pool_[buffer]) return;
    next_[prev_[buffer]] = next_[buffer];
    prev_[next_[buffer]] = prev_[buffer];
    in_pool_[buffer] = false;
  }

 private:
  int Find(int s) {
    while (parent_[s] != s) {
      parent_[s] = parent_[parent_[s]];
      s = parent_[s];
    }
    return s;
  }
  int Sentinel(int rep) const { return buffers_ + rep; }

  std::vector<int> parent_, size_, top_;  // per stage
  std::vector<int> next_, prev_;          // per buffer, then per sentinel
  std::vector<bool> in_pool_;             // per buffer
  int buffers_;
};

}  // namespace

void AssignBuffers(std::span<const StageAccess> stages,
                   std::span<const int64_t> value_width,
                   std::vector<int>& buffer_of_value,
                   std::vector<int64_t>& buffer_widths) {
  const int n = static_cast<int>(stages.size());
  const size_t n_values = value_width.size();
  RF_CHECK(buffer_of_value.size() == n_values);
  const int first_own = static_cast<int>(buffer_widths.size());

  // The distinct stages reading each value, by offset (CSR), and the last.
  std::vector<int> last_reader(n_values, -1);
  std::vector<int> offset(n_values + 1, 0);
  int writes = 0;
  for (int s = 0; s < n; ++s) {
    writes += static_cast<int>(stages[s].writes.size());
    for (int v : stages[s].reads) {
      if (last_reader[v] == s) continue;
      last_reader[v] = s;
      ++offset[v + 1];
    }
  }
  for (size_t v = 0; v < n_values; ++v) offset[v + 1] += offset[v];
  std::vector<int> readers(offset[n_values]);
  {
    std::vector<int> fill(offset.begin(), offset.end() - 1);
    std::vector<int> seen(n_values, -1);
    for (int s = 0; s < n; ++s) {
      for (int v : stages[s].reads) {
        if (seen[v] == s) continue;
        seen[v] = s;
        readers[fill[v]++] = s;
      }
    }
  }

  const int max_buffers = first_own + writes;
  HeirSets sets(n, max_buffers);
  std::vector<int> heir(n, -1);
  // prefix[s]: every stage before it is an ancestor of s (a lower bound).
  std::vector<int> prefix(n, 0);
  // Every freed buffer, by the last stage that used it: free for any stage
  // whose prefix passes that one. An entry is stale once the buffer was
  // taken (its generation moved on).
  struct Freed {
    int last_user, buffer, generation;
    bool operator>(const Freed& o) const {
      return std::tie(last_user, buffer) > std::tie(o.last_user, o.buffer);
    }
  };
  std::priority_queue<Freed, std::vector<Freed>, std::greater<>> freed;
  std::vector<int> generation(max_buffers, 0);
  std::vector<bool> is_free(max_buffers, false);
  auto take = [&](int s) {
    int b = sets.Take(s);
    while (b < 0 && !freed.empty() && freed.top().last_user < prefix[s]) {
      const Freed f = freed.top();
      freed.pop();
      if (is_free[f.buffer] && generation[f.buffer] == f.generation) {
        sets.Remove(f.buffer);
        b = f.buffer;
      }
    }
    if (b < 0) {
      b = static_cast<int>(buffer_widths.size());
      buffer_widths.push_back(0);
    }
    is_free[b] = false;
    ++generation[b];
    return b;
  };

  std::vector<int> deps;
  for (int s = 0; s < n; ++s) {
    const StageAccess& stage = stages[s];
    deps.assign(stage.deps.begin(), stage.deps.end());
    std::sort(deps.begin(), deps.end());
    int p = 0;
    for (int d : deps) {
      RF_CHECK(d >= 0 && d < s);
      if (heir[d] < 0) {
        heir[d] = s;
        sets.Join(s, d);
      }
      p = std::max(p, prefix[d] == d ? d + 1 : prefix[d]);
    }
    for (int d : deps) p += d == p ? 1 : 0;
    prefix[s] = p;

    for (int v : stage.writes) {
      if (buffer_of_value[v] >= 0) continue;
      const int b = take(s);
      buffer_widths[b] = std::max(buffer_widths[b], value_width[v]);
      buffer_of_value[v] = b;
    }

    // A value whose last reader this is: its buffer goes to this stage's
    // pool when every reader leads here through heirs, and in any case to
    // the stages past a prefix barrier beyond this one.
    for (int v : stage.reads) {
      if (last_reader[v] != s) continue;
      last_reader[v] = -1;  // once, however often the stage reads it
      const int b = buffer_of_value[v];
      RF_CHECK(b >= 0);
      if (b < first_own) continue;
      bool heirs = true;
      for (int i = offset[v]; i < offset[v + 1] && heirs; ++i)
        heirs = sets.Top(readers[i]) == s;
      if (heirs) sets.Free(s, b);
      is_free[b] = true;
      freed.push({s, b, generation[b]});
    }
  }
}

}  // namespace rowflow::plan_internal
