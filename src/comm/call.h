// What every Communicator method shares (communicator.cpp, collectives.cpp, windows.cpp): the
// conversions of its raw arguments, and Call, one call's hold on the communicator.
#pragma once

#include <pybind11/pybind11.h>

#include <mutex>
#include <stdexcept>
#include <string>

#include "comm/communicator.h"
#include "comm/nccl_error.h"

namespace ncclkit {

// A data type's code, checked against this build and the loaded NCCL (fp8 came with 2.24).
ncclDataType_t as_dtype(int dtype);

inline void* as_ptr(Communicator::Ptr p) { return reinterpret_cast<void*>(p); }
inline cudaStream_t as_stream(Communicator::Ptr s) { return reinterpret_cast<cudaStream_t>(s); }

// fork() bumps it in the child: a communicator made before is the parent's, whose NCCL threads
// and CUDA context the child does not have.
unsigned process_generation();
void check_process(unsigned made_in, const char* call);

// This thread's ncclGroupStart depth, and whether its outermost group is a simulated one
// (group_start(simulate)): calls that NCCL runs only at the group's end, and non-blocking
// communicators in a simulation, are refused inside (the first would not have happened when they
// return, the second would run for real).
struct ThreadGroup {
  int depth = 0;
  bool simulating = false;
};
ThreadGroup& thread_group();
// Refuses `call` inside an open group: std::invalid_argument saying why.
void refuse_in_group(const char* call, const char* why);

// Where NCCL writes what it makes (a child's ncclComm_t, an ncclWindow_t). For a non-blocking
// communicator, or inside a group, NCCL keeps the address and writes there when it is done,
// after the call returned: the slot lives on the heap and is freed only once NCCL has written it
// (settle()); a wait that gives up leaves it to NCCL (a few bytes) rather than free it under it.
template <typename T>
class OutSlot {
 public:
  OutSlot() : slot_(new T()) {}
  ~OutSlot() {
    if (settled_) delete slot_;
  }
  OutSlot(const OutSlot&) = delete;
  OutSlot& operator=(const OutSlot&) = delete;
  T* get() { return slot_; }
  T settle() {
    settled_ = true;
    return *slot_;
  }

 private:
  T* slot_;
  bool settled_ = false;
};

// The states in which a call may run (Communicator::State's bits).
constexpr int kOnlyLive = 1;
constexpr int kLiveOrRevoked = 1 | 4;
constexpr int kAnyButGone = 1 | 2 | 4 | 16;
constexpr int kOnlySuspended = 16;

// One call's hold on the communicator: the GIL released first, then the lock taken, so that a
// thread holding the lock never waits for a GIL that a thread waiting for the lock holds (a
// forked child checks first: its copy of the lock may be held by a thread it does not have).
// Then whether the call may run in the communicator's state, and, on a non-blocking
// communicator, the wait for NCCL to finish the operation before (NCCL takes no call while one
// is in progress).
class Communicator::Call {
 public:
  Call(Communicator& comm, const char* call, int allowed_states) : comm_(comm), lock_(comm.mutex_, std::defer_lock) {
    check_process(comm.process_generation_, call);
    lock_.lock();
    const State state = comm.state_.load();
    if (!(static_cast<int>(state) & allowed_states)) {
      switch (state) {
        case State::kGone: throw std::invalid_argument("communicator has been destroyed");
        case State::kFinalized:
          throw std::invalid_argument(std::string(call) +
                                      ": the communicator has been finalized; only destroy() or abort() may follow");
        case State::kSuspended:
          throw std::invalid_argument(std::string(call) +
                                      ": the communicator is suspended; resume() it first (or destroy() or abort() it)");
        default:
          throw std::invalid_argument(std::string(call) +
                                      ": the communicator has been revoked; only destroy(), abort(), split() or "
                                      "shrink() may follow");
      }
    }
    if (comm.abort_requested_.load()) throw CommunicatorAborted(call);
    if (!comm.blocking_ && thread_group().simulating) {
      throw std::invalid_argument(std::string(call) +
                                  ": a non-blocking communicator cannot take part in group(simulate=True): NCCL "
                                  "would run its calls rather than simulate them");
    }
    if (!comm.blocking_) comm.wait_while_in_progress(call);
  }

  ncclComm_t comm() const { return comm_.comm_; }

 private:
  pybind11::gil_scoped_release release_;
  Communicator& comm_;
  std::unique_lock<std::mutex> lock_;
};

}  // namespace ncclkit
