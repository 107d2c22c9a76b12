# The build that ships: node-gyp-build compiles it on install when no prebuild
# matches, and prebuildify uses it for prebuilt binaries. CMakeLists.txt builds
# the same sources for development; test/build.test.ts keeps the lists equal.
# -fno-math-errno: sqrt/exp need not set errno, which lets g++ vectorise the
# optimizer and activation loops (Adam step 3x faster, measured).
# -fno-trapping-math (clang's default): no code reads floating-point exception
# flags, and without it g++ will not turn a compare-and-select such as the
# ReLU derivative or leaky-relu into vector blends (relu backward 10x, measured).
# NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: an error raised while a worker_thread is
# being terminated cannot reach JS; without it node-addon-api aborts the process.
# No -march=native here: a shipped binary must run on any CPU of its arch.
{
  "targets": [
    {
      "target_name": "fastmlp",
      "sources": [
        "native/core/activations.cc",
        "native/core/conv.cc",
        "native/core/conv_transpose.cc",
        "native/core/dense.cc",
        "native/core/dropout.cc",
        "native/core/gemm.cc",
        "native/core/gemm_avx2.cc",
        "native/core/gemm_avx512.cc",
        "native/core/gemm_blocked.cc",
        "native/core/gemm_packed.cc",
        "native/core/gemm_neon.cc",
        "native/core/gemm_scalar.cc",
        "native/core/losses.cc",
        "native/core/losses_elementwise.cc",
        "native/core/network.cc",
        "native/core/network_epoch.cc",
        "native/core/network_passes.cc",
        "native/core/norm.cc",
        "native/core/optim.cc",
        "native/core/pool2x2.cc",
        "native/core/pool2x2_avx2.cc",
        "native/core/pool2x2_avx512.cc",
        "native/core/predict_cache.cc",
        "native/core/prelu.cc",
        "native/core/threads.cc",
        "native/binding/addon.cc",
        "native/binding/args.cc",
        "native/binding/data_block.cc",
        "native/binding/env_probe.cc",
        "native/binding/errors.cc",
        "native/binding/network_wrap.cc",
        "native/binding/network_wrap_run.cc",
        "native/binding/network_wrap_state.cc",
        "native/binding/ops.cc",
        "native/binding/specs.cc",
        "native/binding/temp_files.cc",
        "native/binding/pass_worker.cc",
        "native/binding/predict_worker.cc",
        "native/binding/train_epoch_worker.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math", "-fvisibility=hidden", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "MACOSX_DEPLOYMENT_TARGET": "10.15",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/O2"] }
      }
    }
  ]
}
