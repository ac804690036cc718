{
  "targets": [
    {
      "target_name": "sonde_sampler",
      "sources": ["interrupt_sampler.cc"],
      "cflags_cc": ["-std=c++20", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
