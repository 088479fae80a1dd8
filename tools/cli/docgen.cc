#include "tools/cli/docgen.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "graph/error.h"

namespace rowflow::cli {
namespace {

// Escapes text for roff: backslashes, and a leading dot or quote that
// would read as a request.
std::string Roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
    line_start = c == '\n';
  }
  return out;
}

// The commands a user types: every subcommand with a name.
std::vector<const CLI::App*> Commands(const CLI::App& app) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (!sub->get_name().empty()) out.push_back(sub);
  }
  return out;
}

// Options shown in --help (a hidden option has an empty group).
std::vector<const CLI::Option*> Shown(const CLI::App& cmd) {
  std::vector<const CLI::Option*> out;
  for (const CLI::Option* opt : cmd.get_options()) {
    if (!opt->get_group().empty()) out.push_back(opt);
  }
  return out;
}

// A positional argument as the footers write it: MODEL, SPEC.
std::string ArgName(const CLI::Option& opt) {
  std::string name = opt.get_name();
  for (char& c : name) c = static_cast<char>(std::toupper(c));
  return name;
}

bool TakesValue(const CLI::Option& opt) { return opt.get_expected_max() != 0; }

// "-o, --output FILE" as --help spells it.
std::string OptionSpelling(const CLI::Option& opt) {
  std::string names;
  for (const std::string& s : opt.get_snames()) {
    names += (names.empty() ? "" : ", ") + std::string("-") + s;
  }
  for (const std::string& l : opt.get_lnames()) {
    names += (names.empty() ? "" : ", ") + std::string("--") + l;
  }
  return names;
}

std::string ValueName(const CLI::Option& opt) {
  std::string type = opt.get_type_name();
  return type.empty() ? "VALUE" : type;
}

std::string Synopsis(const CLI::App& cmd) {
  std::string out = "\\fBrowflow " + Roff(cmd.get_name()) + "\\fR";
  for (const CLI::Option* opt : Shown(cmd)) {
    if (opt->get_positional()) {
      const std::string name = "\\fI" + Roff(ArgName(*opt)) + "\\fR";
      out += opt->get_required() ? " " + name : " [" + name + "]";
    }
  }
  out += " [\\fIoptions\\fR]";
  return out;
}

}  // namespace

std::string ManPage(const CLI::App& app, const std::string& version) {
  std::string m;
  m += ".TH ROWFLOW 1 \"\" \"" + Roff(version) + "\" \"User Commands\"\n";
  m += ".SH NAME\nrowflow \\- " +
       Roff(app.get_description().substr(app.get_description().find(':') + 2)) +
       "\n";
  m += ".SH SYNOPSIS\n";
  for (const CLI::App* cmd : Commands(app)) m += Synopsis(*cmd) + "\n.br\n";
  m += "\\fBrowflow help\\fR [\\fIcommand\\fR]\n.br\n";
  m += "\\fBrowflow \\-\\-version\\fR\n";
  m += ".SH DESCRIPTION\n" + Roff(app.get_description()) + ".\n";
  m += ".PP\nEach command is described below, as \\fBrowflow\\fR "
       "\\fIcommand\\fR \\fB\\-\\-help\\fR prints it.\n";
  m += ".SH OPTIONS\n";
  for (const CLI::Option* opt : Shown(app)) {
    m += ".TP\n\\fB" + Roff(OptionSpelling(*opt)) + "\\fR\n" +
         Roff(opt->get_description()) + "\n";
  }
  m += ".SH COMMANDS\n";
  for (const CLI::App* cmd : Commands(app)) {
    m += ".SS " + Roff(cmd->get_name()) + "\n" + Synopsis(*cmd) + "\n.PP\n" +
         Roff(cmd->get_description()) + "\n";
    for (const CLI::Option* opt : Shown(*cmd)) {
      std::string head =
          opt->get_positional()
              ? "\\fI" + Roff(ArgName(*opt)) + "\\fR"
              : "\\fB" + Roff(OptionSpelling(*opt)) + "\\fR" +
                    (TakesValue(*opt) ? " \\fI" + Roff(ValueName(*opt)) + "\\fR"
                                      : "");
      std::string text = opt->get_description();
      if (!opt->get_default_str().empty()) {
        text += " (default: " + opt->get_default_str() + ")";
      }
      m += ".TP\n" + head + "\n" + Roff(text) + "\n";
    }
    if (!cmd->get_footer().empty()) {
      m += ".PP\n.nf\n" + Roff(cmd->get_footer()) + "\n.fi\n";
    }
  }
  m += ".SH EXIT STATUS\n";
  const ErrorKind kinds[] = {ErrorKind::kUsage, ErrorKind::kModel,
                             ErrorKind::kInput, ErrorKind::kIo,
                             ErrorKind::kInternal};
  m += ".TP\n0\nsuccess\n";
  for (ErrorKind kind : kinds) {
    m += ".TP\n" + std::to_string(ExitCode(kind)) + "\n" +
         Roff(ErrorKindName(kind)) + " error\n";
  }
  m += ".PP\nEvery refusal is one line on standard error, "
       "\\fBrowflow: error: \\fR\\fIwhere\\fR\\fB: \\fR\\fIwhat\\fR; "
       "an output file is written whole or not at all.\n";
  m += ".SH ENVIRONMENT\n.TP\nROWFLOW_KERNELS\n"
       "In a portable build (\\fBrowflow \\-\\-version\\fR says which), asks "
       "for a narrower kernel set than the widest this CPU runs: "
       "\\fBavx512\\fR, \\fBavx2\\fR or \\fBgeneric\\fR. Results are bitwise "
       "the same with every set.\n";
  m += ".SH SEE ALSO\n/usr/share/doc/rowflow/README.md, "
       "/usr/share/doc/rowflow/examples/\n";
  return m;
}

std::string BashCompletion(const CLI::App& app) {
  std::string commands = "help";
  for (const CLI::App* cmd : Commands(app)) commands += " " + cmd->get_name();
  std::string top_opts;
  for (const CLI::Option* opt : Shown(app)) {
    for (const std::string& l : opt->get_lnames()) top_opts += " --" + l;
  }
  std::string s;
  s += "# bash completion for rowflow; generated from the CLI's definitions.\n";
  s += "_rowflow() {\n";
  s += "  local cur=${COMP_WORDS[COMP_CWORD]} "
       "prev=${COMP_WORDS[COMP_CWORD-1]}\n";
  s += "  local cmd='' i opts='' valued=''\n";
  s += "  for ((i = 1; i < COMP_CWORD; i++)); do\n";
  s += "    [[ ${COMP_WORDS[i]} == -* ]] || { cmd=${COMP_WORDS[i]}; break; }\n";
  s += "  done\n";
  s += "  case $cmd in\n";
  s += "    '')\n      COMPREPLY=($(compgen -W '" + commands + top_opts +
       "' -- \"$cur\"))\n      return ;;\n";
  s += "    help)\n      COMPREPLY=($(compgen -W '" +
       commands.substr(commands.find(' ') + 1) +
       "' -- \"$cur\"))\n      return ;;\n";
  for (const CLI::App* cmd : Commands(app)) {
    std::string opts, valued;
    for (const CLI::Option* opt : Shown(*cmd)) {
      if (opt->get_positional()) continue;
      for (const std::string& sn : opt->get_snames()) {
        opts += " -" + sn;
        if (TakesValue(*opt)) valued += " -" + sn;
      }
      for (const std::string& l : opt->get_lnames()) {
        opts += " --" + l;
        if (TakesValue(*opt)) valued += " --" + l;
      }
    }
    s += "    " + cmd->get_name() + ")\n      opts='" + opts.substr(1) +
         "'\n      valued='" + (valued.empty() ? "" : valued.substr(1)) +
         "' ;;\n";
  }
  s += "    *) return ;;\n  esac\n";
  s += "  # An option's value, or an argument: a file name.\n";
  s += "  if [[ $cur == -* && \" $valued \" != *\" $prev \"* ]]; then\n";
  s += "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n";
  s += "  else\n";
  s += "    COMPREPLY=($(compgen -f -- \"$cur\"))\n";
  s += "  fi\n";
  s += "}\n";
  s += "complete -o filenames -o bashdefault -F _rowflow rowflow\n";
  return s;
}

int WriteDocs(const CLI::App& app, const std::string& version,
              const std::string& dir) {
  const std::pair<std::string, std::string> files[] = {
      {dir + "/rowflow.1", ManPage(app, version)},
      {dir + "/rowflow.bash", BashCompletion(app)}};
  for (const auto& [path, text] : files) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    out.close();
    if (!out) {
      std::fprintf(stderr, "rowflow: error: %s: cannot write\n", path.c_str());
      return ExitCode(ErrorKind::kIo);
    }
  }
  return 0;
}

}  // namespace rowflow::cli
