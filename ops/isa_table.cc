// One copy's table (ops/isa_table.h), named by the instructions this copy
// was compiled for.
#include "ops/isa_table.h"

namespace rowflow::ops::ROWFLOW_ISA_NS {
namespace {

template <typename T>
constexpr isa::Entries<T> EntriesOf() {
  return {&MakeDense<T>, &BuildTiny<T>, &ApplyActivation<T>,
          &ApplyActivationGroups<T>};
}

}  // namespace

#if defined(__AVX512F__)
constexpr const char* kName = "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
constexpr const char* kName = "avx2";
#else
constexpr const char* kName = "generic";
#endif

const isa::Table kTable = {kName, EntriesOf<float>(), EntriesOf<double>(),
                           &kFmaLoop};

}  // namespace rowflow::ops::ROWFLOW_ISA_NS
