// The fields of an NCCL configuration struct (ncclConfig_t, ncclCollConfig_t) by their Python
// names: a table says where each one lives, and one function fills a struct from what a caller
// named. Python has checked names, types and ranges (ncclkit.config); this side knows the header.
#pragma once

#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "common/gpu_api.h"

namespace ncclkit {

// An int field's value or a text field's.
using ConfigValue = std::variant<std::int64_t, std::string>;
using ConfigFields = std::vector<std::pair<std::string, ConfigValue>>;

// One field: a number member set from Python's int, or a text member the struct points to.
template <class Struct>
struct ConfigField {
  const char* name;
  void (*number)(Struct&, std::int64_t);
  const char* Struct::*text;
};

namespace config_detail {

template <class Member>
struct MemberOf;
template <class Struct, class Type>
struct MemberOf<Type Struct::*> {
  using StructType = Struct;
  using MemberType = Type;
};

template <auto Member>
using StructOf = typename MemberOf<decltype(Member)>::StructType;

// An int, an unsigned integer, or a handle (a pointer such as a cudaEvent_t, given as its address).
template <auto Member>
void set_number(StructOf<Member>& config, std::int64_t value) {
  using Type = typename MemberOf<decltype(Member)>::MemberType;
  if constexpr (std::is_pointer_v<Type>) {
    config.*Member = reinterpret_cast<Type>(static_cast<std::uintptr_t>(value));
  } else {
    config.*Member = static_cast<Type>(value);
  }
}

}  // namespace config_detail

template <auto Member>
ConfigField<config_detail::StructOf<Member>> number(const char* name) {
  return {name, &config_detail::set_number<Member>, nullptr};
}

template <class Struct>
ConfigField<Struct> text(const char* name, const char* Struct::*member) {
  return {name, nullptr, member};
}

template <class Struct>
std::vector<std::string> names_of(const std::vector<ConfigField<Struct>>& table) {
  std::vector<std::string> names;
  for (const ConfigField<Struct>& f : table) names.emplace_back(f.name);
  return names;
}

// Fills `config` from `given`; texts go into `texts`, which must live as long as NCCL reads them.
// Throws std::invalid_argument for a name `table` lacks (the header has no such field) or a value
// of the wrong kind.
template <class Struct>
void fill(Struct& config, const std::vector<ConfigField<Struct>>& table, const ConfigFields& given,
          std::deque<std::string>& texts, const char* struct_name) {
  for (const auto& [name, value] : given) {
    const ConfigField<Struct>* found = nullptr;
    for (const ConfigField<Struct>& f : table) {
      if (name == f.name) found = &f;
    }
    if (found == nullptr) {
      throw std::invalid_argument(std::string(struct_name) + " of NCCL " + std::to_string(NCCL_VERSION_CODE) +
                                  "'s header has no field " + name);
    }
    if (found->number != nullptr && std::holds_alternative<std::int64_t>(value)) {
      found->number(config, std::get<std::int64_t>(value));
    } else if (found->text != nullptr && std::holds_alternative<std::string>(value)) {
      config.*found->text = texts.emplace_back(std::get<std::string>(value)).c_str();
    } else {
      throw std::invalid_argument("config field " + name + " takes " + (found->text ? "a str" : "an int"));
    }
  }
}

}  // namespace ncclkit
