// Windows (ncclCommWindowRegister) and the one-sided calls on them (ncclPutSignal, ...).
#include "comm/call.h"

namespace ncclkit {

#if NCCLKIT_HAS_WINDOW_REGISTRATION
Communicator::Ptr Communicator::register_window(Ptr buf, std::size_t nbytes, int flags) {
  NCCLKIT_REQUIRE_NCCL(ncclCommWindowRegister);
  // One thread driving several communicators registers from a thread per communicator instead.
  refuse_in_group("register_window", "NCCL registers at the group's end, after the call has returned");
  Call call(*this, "register_window", kOnlyLive);
  DeviceGuard guard(device_);
  OutSlot<ncclWindow_t> window;
  check(ncclCommWindowRegister(call.comm(), as_ptr(buf), nbytes, window.get(), flags), "ncclCommWindowRegister");
  if (!blocking_) wait_while_in_progress("ncclCommWindowRegister");
  const ncclWindow_t made = window.settle();
  if (made == nullptr) {  // NCCL's answer where the communicator has no window support
    throw std::invalid_argument("register_window: NCCL made no window: this communicator has no window support "
                                "(NCCL_WIN_ENABLE=0, or GPUs and drivers without it)");
  }
  return reinterpret_cast<Ptr>(made);
}

void Communicator::deregister_window(Ptr window) {
  NCCLKIT_REQUIRE_NCCL(ncclCommWindowDeregister);
  refuse_in_group("deregister_window", "NCCL deregisters at the group's end");
  Call call(*this, "deregister_window", kLiveOrRevoked);
  DeviceGuard guard(device_);
  check(ncclCommWindowDeregister(call.comm(), reinterpret_cast<ncclWindow_t>(window)), "ncclCommWindowDeregister");
  if (!blocking_) wait_while_in_progress("ncclCommWindowDeregister");
}
#endif

#if NCCLKIT_HAS_WINDOW_USER_PTR
Communicator::Ptr Communicator::window_user_ptr(Ptr window) {
  NCCLKIT_REQUIRE_NCCL(ncclWinGetUserPtr);
  Call call(*this, "window_user_ptr", kOnlyLive);
  void* user = nullptr;
  check(ncclWinGetUserPtr(call.comm(), reinterpret_cast<ncclWindow_t>(window), &user), "ncclWinGetUserPtr");
  return reinterpret_cast<Ptr>(user);
}
#endif

#if NCCLKIT_HAS_ONE_SIDED
void Communicator::put_signal(Ptr buf, std::size_t count, int dtype, int peer, Ptr window, std::size_t offset,
                              int signal, int context, Ptr stream) {
  NCCLKIT_REQUIRE_NCCL(ncclPutSignal);
  check_peer(peer, "peer");
  ncclDataType_t t = as_dtype(dtype);
  Call call(*this, "put_signal", kOnlyLive);
  check(ncclPutSignal(as_ptr(buf), count, t, peer, reinterpret_cast<ncclWindow_t>(window), offset, signal, context, 0,
                      call.comm(), as_stream(stream)),
        "ncclPutSignal");
}

void Communicator::signal(int peer, int signal, int context, Ptr stream) {
  NCCLKIT_REQUIRE_NCCL(ncclSignal);
  check_peer(peer, "peer");
  Call call(*this, "signal", kOnlyLive);
  check(ncclSignal(peer, signal, context, 0, call.comm(), as_stream(stream)), "ncclSignal");
}

void Communicator::wait_signal(const std::vector<std::array<int, 4>>& waits, Ptr stream) {
  NCCLKIT_REQUIRE_NCCL(ncclWaitSignal);
  std::vector<ncclWaitSignalDesc_t> descs;
  for (const auto& [peer, count, signal, context] : waits) {
    check_peer(peer, "peer");
    descs.push_back(ncclWaitSignalDesc_t{count, peer, signal, context});
  }
  Call call(*this, "wait_signal", kOnlyLive);
  check(ncclWaitSignal(static_cast<int>(descs.size()), descs.data(), call.comm(), as_stream(stream)), "ncclWaitSignal");
}
#endif

}  // namespace ncclkit
