{
  "targets": [
    {
      "target_name": "mixprof_native",
      "sources": [
        "src/addon.cc",
        "src/elf_file.cc",
        "src/dwarf_layout.cc",
        "src/process_memory.cc",
        "src/symbolizer.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldw", "-lelf"]
    }
  ]
}
