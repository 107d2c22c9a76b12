// The library version, kept equal to package.json's by test/build.test.ts.
#pragma once
#define FASTMLP_VERSION "0.1.0"
