#pragma once
// Scratch memory is explicit: a plan states how much it needs, the caller provides it to run().
#include <cstddef>

namespace baracuda {

struct Workspace {
  void* data = nullptr;
  size_t bytes = 0;
};

// Books named aligned chunks so that workspace_size() and run() derive the layout from one code path.
class WorkspaceLayout {
 public:
  static constexpr size_t kAlignment = 256;
  // Reserves `bytes` and returns the chunk's offset from the workspace start.
  size_t book(size_t bytes, size_t alignment = kAlignment) {
    size_t offset = (total_ + alignment - 1) / alignment * alignment;
    total_ = offset + bytes;
    return offset;
  }
  size_t total() const { return total_; }

 private:
  size_t total_ = 0;
};

}  // namespace baracuda
