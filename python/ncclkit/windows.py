"""Windows: a buffer every rank of a communicator registers together (ncclCommWindowRegister,
NCCL 2.27), which NCCL's symmetric kernels use when each rank's comes from NCCL's allocator
(ncclkit.memory) and the one-sided calls (put_signal, NCCL 2.29) write into."""

from __future__ import annotations

from typing import Any


class Window:
    """This rank's part of a window: its address and size, and the handle NCCL gave it. Made by
    Communicator.register_window(); deregister() (collective, like the registration) or the end
    of a with-block gives it back. Holds the registered object, so its memory outlives the
    registration."""

    __slots__ = ("__weakref__", "_comm", "_handle", "_owner", "flags", "nbytes", "ptr")

    def __init__(self, comm: Any, handle: int, owner: Any, ptr: int, nbytes: int, flags: int) -> None:
        self._comm = comm
        self._handle = handle
        self._owner = owner
        self.ptr = ptr
        self.nbytes = nbytes
        self.flags = flags

    @property
    def handle(self) -> int:
        """The ncclWindow_t, for NCCL calls of your own; ValueError once deregistered."""
        if not self._handle:
            msg = "this window has been deregistered"
            raise ValueError(msg)
        return self._handle

    @property
    def registered(self) -> bool:
        return bool(self._handle) and self._comm.valid

    def user_ptr(self) -> int:
        """The address this rank registered, as NCCL has it (ncclWinGetUserPtr, NCCL >= 2.29)."""
        return self._comm._window_user_ptr(self)

    def deregister(self) -> None:
        """ncclCommWindowDeregister, on every rank, once. A communicator destroyed or aborted
        already took its windows with it: then there is nothing to do."""
        handle, self._handle = self._handle, 0
        if handle and self._comm.valid:
            self._comm._deregister_window(handle)
        self._owner = None

    def __enter__(self) -> Window:
        return self

    def __exit__(self, *exc: object) -> None:
        self.deregister()

    def __repr__(self) -> str:
        state = f"handle=0x{self._handle:x}" if self._handle else "deregistered"
        return f"Window(ptr=0x{self.ptr:x}, nbytes={self.nbytes}, {state})"
