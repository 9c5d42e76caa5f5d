// Committee members as separate Fortran Potential objects: see quip_members.h.
#include "quip_members.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>

namespace {

// gfortran's descriptor of a derived type ("vtab"), as emitted for type(Potential).
struct GfortranVtab {
  std::int32_t hash;
  std::size_t size;
  const void *extends;
  const void *def_init;
  void (*copy)(const void *, void *);
  void (*final)(void *, std::size_t, int);
  void (*deallocate)(void *);
};

}  // namespace

extern "C" {
extern GfortranVtab __potential_module_MOD___vtab_potential_module_Potential;
extern const char __potential_module_MOD___def_init_potential_module_Potential[];

// potential_Filename_Initialise(this, args_str, param_filename, bulk_scale, mpi_obj, error)
// with gfortran's hidden string lengths last; absent optional arguments are null.
void __potential_module_MOD_potential_filename_initialise(void *pot, const char *args_str,
                                                          const char *param_filename,
                                                          void *bulk_scale, void *mpi_obj,
                                                          int *error, std::size_t n_args,
                                                          std::size_t n_file);
double __potential_module_MOD_potential_cutoff(void *pot, int *error);
}

namespace xfer_quip {

const MemberPotential &member_potential(const std::string &key, const std::string &file,
                                        const std::string &init) {
  static std::map<std::string, MemberPotential> members;
  const auto found = members.find(key);
  if (found != members.end()) return found->second;

  const GfortranVtab &vtab = __potential_module_MOD___vtab_potential_module_Potential;
  if (vtab.def_init != __potential_module_MOD___def_init_potential_module_Potential ||
      vtab.size == 0 || vtab.size > (std::size_t{1} << 30))
    throw std::runtime_error("QUIP's Potential type has an unexpected layout (vtab)");

  // A default-initialised Potential, exactly as `type(Potential) :: pot` would start.
  void *pot = std::aligned_alloc(64, (vtab.size + 63) / 64 * 64);
  if (pot == nullptr) throw std::runtime_error("out of memory for a QUIP potential");
  std::memcpy(pot, vtab.def_init, vtab.size);
  __potential_module_MOD_potential_filename_initialise(pot, init.c_str(), file.c_str(), nullptr,
                                                       nullptr, nullptr, init.size(),
                                                       file.size());
  MemberPotential member;
  member.cutoff = __potential_module_MOD_potential_cutoff(pot, nullptr);
  // QUIP's wrapper receives `transfer(pointer, integer array)`: the address as ints
  member.handle.assign((sizeof(void *) + sizeof(int) - 1) / sizeof(int), 0);
  std::memcpy(member.handle.data(), &pot, sizeof(void *));
  return members.emplace(key, std::move(member)).first->second;
}

}  // namespace xfer_quip
