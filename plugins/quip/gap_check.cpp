// Pre-flight checks of a QUIP/GAP xml file; see gap_check.h.
#include "gap_check.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/stat.h>

namespace xfer_quip {

namespace {

const char *const kSymbols[] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",
    "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh",
    "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
    "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re",
    "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db",
    "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
constexpr int kNumElements = sizeof(kSymbols) / sizeof(kSymbols[0]);

std::string directory_of(const std::string &path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

bool non_empty_file(const std::string &path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

// Name of the first element tag (skipping <?...?> declarations and comments).
std::string root_name(const std::string &text) {
  std::size_t pos = 0;
  while ((pos = text.find('<', pos)) != std::string::npos) {
    if (text.compare(pos, 2, "<?") == 0 || text.compare(pos, 2, "<!") == 0) {
      pos = text.find('>', pos);
      if (pos == std::string::npos) return "";
      continue;
    }
    std::size_t end = pos + 1;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
           text[end] != '>' && text[end] != '/')
      ++end;
    return text.substr(pos + 1, end - pos - 1);
  }
  return "";
}

bool ends_with_closing_tag(const std::string &text, const std::string &name) {
  const auto last = text.find_last_not_of(" \t\r\n");
  if (last == std::string::npos) return false;
  const std::string closing = "</" + name + ">";
  return last + 1 >= closing.size() &&
         text.compare(last + 1 - closing.size(), closing.size(), closing) == 0;
}

// Atomic numbers named in the <descriptor> strings (Z=, Z1=, Z2=, species_Z={...}).
std::set<int> descriptor_species(const std::string &text) {
  static const std::regex single(R"((?:^|\s)(?:Z|Z1|Z2)=(\d+))");
  static const std::regex list(R"(species_Z=\{([^}]*)\})");
  std::set<int> species;
  std::size_t pos = 0;
  while ((pos = text.find("<descriptor>", pos)) != std::string::npos) {
    const auto end = text.find("</descriptor>", pos);
    if (end == std::string::npos) break;
    const std::string desc = text.substr(pos + 12, end - pos - 12);
    for (std::sregex_iterator it(desc.begin(), desc.end(), single), stop; it != stop; ++it)
      species.insert(std::stoi((*it)[1]));
    for (std::sregex_iterator it(desc.begin(), desc.end(), list), stop; it != stop; ++it) {
      std::istringstream values((*it)[1].str());
      int z;
      while (values >> z) species.insert(z);
    }
    pos = end;
  }
  species.erase(0);
  return species;
}

}  // namespace

int atomic_number(const std::string &text) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) {
    const int z = std::stoi(text);
    return (z >= 1 && z <= kNumElements) ? z : 0;
  }
  for (int i = 0; i < kNumElements; ++i)
    if (text == kSymbols[i]) return i + 1;
  return 0;
}

std::string element_symbol(int z) {
  return (z >= 1 && z <= kNumElements) ? kSymbols[z - 1] : "?";
}

std::string check_potential_file(const std::string &path, PotentialFileInfo &info) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read potential file " + path;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  const std::string root = root_name(text);
  if (root.empty() || !ends_with_closing_tag(text, root))
    return "potential file " + path + " is not a complete xml document (corrupt or truncated)";

  const std::string attr = "sparseX_filename=\"";
  const std::string dir = directory_of(path);
  std::string missing;
  int n_missing = 0;
  for (auto pos = text.find(attr); pos != std::string::npos; pos = text.find(attr, pos)) {
    pos += attr.size();
    const auto end = text.find('"', pos);
    if (end == std::string::npos) break;
    const std::string name = text.substr(pos, end - pos);
    if (!non_empty_file(dir + "/" + name) && n_missing++ < 3)
      missing += (missing.empty() ? "" : ", ") + name;
  }
  if (n_missing > 0)
    return "potential file " + path + " lacks " + std::to_string(n_missing) +
           " of its sparseX files (" + missing + (n_missing > 3 ? ", ..." : "") +
           "); copy them next to the xml";

  info.species = descriptor_species(text);
  return "";
}

}  // namespace xfer_quip
