{
  "targets": [
    {
      "target_name": "mixprof_native",
      "sources": [
        "src/addon.cc",
        "src/debug_search.cc",
        "src/descriptors.cc",
        "src/elf_file.cc",
        "src/cfi_table.cc",
        "src/function_parts.cc",
        "src/kallsyms.cc",
        "src/dwarf_layout.cc",
        "src/dwarf_sampler.cc",
        "src/process_memory.cc",
        "src/resident_pages.cc",
        "src/socket_owner.cc",
        "src/symbolizer.cc",
        "src/unwinder.cc",
        "src/walk_image.c",
        "src/walk_image_binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldw", "-lelf", "-lbpf", "-lz"],
      "dependencies": ["dwarf_sampler_bpf"]
    },
    {
      "target_name": "dwarf_sampler_bpf",
      "type": "none",
      "actions": [
        {
          "action_name": "vmlinux_h",
          "inputs": ["/sys/kernel/btf/vmlinux"],
          "outputs": ["<(INTERMEDIATE_DIR)/vmlinux.h"],
          "action": ["sh", "-c", "bpftool btf dump file /sys/kernel/btf/vmlinux format c > <(INTERMEDIATE_DIR)/vmlinux.h"]
        },
        {
          "action_name": "dwarf_sampler_bpf_o",
          "inputs": ["../bpf/dwarf-sampler.bpf.c", "../bpf/dwarf-sampler.h", "../bpf/python-walk.h", "../bpf/cfi-unwind.h", "<(INTERMEDIATE_DIR)/vmlinux.h"],
          "outputs": ["<(PRODUCT_DIR)/dwarf-sampler.bpf.o"],
          "action": ["clang", "-O2", "-g", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I<(INTERMEDIATE_DIR)", "-c", "../bpf/dwarf-sampler.bpf.c", "-o", "<@(_outputs)"]
        }
      ]
    }
  ]
}
