{
  "targets": [
    {
      "target_name": "hypnode_native",
      # The source build, for a machine no prebuild fits (scripts/install.js runs node-gyp). The
      # prebuilds are made by scripts/prebuild.js with the same defines and flags: keep them in step.
      # systemd and SO_PEERCRED are Linux-only: elsewhere build nothing, so that `npm install` still
      # succeeds (src/native.ts then explains why the addon is missing).
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/hypnode_native.c"],
          "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
          "cflags_c": ["-std=gnu11", "-Wall", "-Wextra"]
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
