{
  "targets": [
    {
      "target_name": "vrrp6",
      "sources": ["vrrp6.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    },
    {
      "target_name": "tcp_core",
      "sources": ["tcp_core.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    },
    {
      "target_name": "advert_pacer",
      "sources": ["advert_pacer.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2", "-pthread"],
      "ldflags": ["-pthread"]
    },
    {
      "target_name": "genl_batch",
      "sources": ["genl_batch.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
