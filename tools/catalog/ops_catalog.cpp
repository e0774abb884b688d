// Generates docs/ops.md from the registry: every op with the dtypes it accepts, the
// implementations that serve it, forward/backward, and its PyTorch/JAX names. One section per
// family (section_<family>.cpp); a new family adds its file and one line here.
//
//   ops_catalog                 print the catalog
//   ops_catalog --check FILE    exit 1 (with a message) when FILE differs from the catalog
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include "catalog_sections.hpp"

namespace {

std::string catalog() {
  std::ostringstream o;
  o << "# Op catalog\n\n"
    << "Generated from the registry by `tools/catalog/ops_catalog` (build target `ops_catalog`); the\n"
    << "ctest `ops_catalog_up_to_date` fails when this file is stale. Regenerate with\n"
    << "`build/tools/catalog/ops_catalog > docs/ops.md`.\n\n"
    << "Dtypes: those the forward (backward) accepts when every tensor input has that dtype (mixed dtypes\n"
    << "follow PyTorch promotion; `where` takes a bool condition). Implementations: those that serve\n"
    << "the op for some dtype, in dispatch order (CUDA ones on sm_80+).\n\n";
  baracuda::catalog::write_elementwise(o);
  baracuda::catalog::write_reduce(o);
  baracuda::catalog::write_scan(o);
  baracuda::catalog::write_norm(o);
  baracuda::catalog::write_softmax(o);
  baracuda::catalog::write_loss(o);
  baracuda::catalog::write_gemm(o);
  baracuda::catalog::write_grouped_gemm(o);
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string text = catalog();
  if (argc == 3 && std::string(argv[1]) == "--check") {
    std::ifstream f(argv[2]);
    std::stringstream have;
    have << f.rdbuf();
    if (have.str() != text) {
      std::fprintf(stderr, "%s is stale: regenerate it with `ops_catalog > %s`\n", argv[2], argv[2]);
      return 1;
    }
    std::printf("%s is up to date\n", argv[2]);
    return 0;
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}
