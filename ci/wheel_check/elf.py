"""What the rules read from an extension's ELF file, with pyelftools: no binutils needed."""

from __future__ import annotations

from pathlib import Path

from elftools.elf.elffile import ELFFile

# The dynamic entries the rules read, each with the attribute pyelftools gives its string.
_DYNAMIC_ENTRIES = {
    "DT_NEEDED": ("NEEDED", "needed"),
    "DT_RPATH": ("RPATH", "rpath"),
    "DT_RUNPATH": ("RUNPATH", "runpath"),
}


def dynamic_section(library: Path) -> dict[str, list[str]]:
    """NEEDED and RUNPATH/RPATH entries, in the dynamic section's order, each path list split at its colons."""
    entries: dict[str, list[str]] = {}
    with library.open("rb") as file:
        dynamic = ELFFile(file).get_section_by_name(".dynamic")
        for tag in dynamic.iter_tags() if dynamic else []:
            if tag.entry.d_tag in _DYNAMIC_ENTRIES:
                name, attribute = _DYNAMIC_ENTRIES[tag.entry.d_tag]
                entries.setdefault(name, []).extend(getattr(tag, attribute).split(":"))
    return entries


def exported_symbols(library: Path) -> set[str]:
    """The names the library defines in its dynamic symbol table."""
    with library.open("rb") as file:
        symbols = ELFFile(file).get_section_by_name(".dynsym")
        defined = (s for s in symbols.iter_symbols() if s["st_shndx"] != "SHN_UNDEF") if symbols else ()
        return {s.name for s in defined if s.name}


def imported_symbols(library: Path) -> set[str]:
    """The names the library needs from others: undefined in its dynamic symbol table."""
    with library.open("rb") as file:
        symbols = ELFFile(file).get_section_by_name(".dynsym")
        undefined = (s for s in symbols.iter_symbols() if s["st_shndx"] == "SHN_UNDEF") if symbols else ()
        return {s.name for s in undefined if s.name}
