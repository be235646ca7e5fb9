"""The exceptions ncclkit raises besides ValueError and TypeError for bad arguments."""

from __future__ import annotations

from collections.abc import Sequence


class NcclError(RuntimeError):
    """An NCCL call failed. Raised by the compiled bindings with everything NCCL said."""

    def __init__(self, call: str, code: int, name: str, message: str, last_error: str = "") -> None:
        self.call = call
        self.code = code
        self.name = name
        self.message = message
        self.last_error = last_error
        text = f"{call} failed: {name} ({code}): {message}"
        if last_error:
            text += f"\nNCCL's last error: {last_error}"
        super().__init__(text)

    def __reduce__(self) -> tuple:
        return type(self), (self.call, self.code, self.name, self.message, self.last_error)


class NcclTimeoutError(TimeoutError):
    """A call on a non-blocking communicator waited longer than the communicator's ``timeout``
    for NCCL (a peer that never came, say). The communicator is as NCCL left it: abort() it, or
    wait again."""

    def __init__(self, call: str, seconds: float) -> None:
        self.call = call
        self.seconds = seconds
        super().__init__(
            f"{call} did not finish within {seconds:g} s (the communicator's timeout). "
            "A peer that never joined or a collective that some rank did not call looks like this: "
            "abort() the communicator, or raise its timeout"
        )

    def __reduce__(self) -> tuple:
        return type(self), (self.call, self.seconds)


class CommunicatorAbortedError(RuntimeError):
    """A call was waiting on a non-blocking communicator when another thread aborted it."""

    def __init__(self, call: str) -> None:
        self.call = call
        super().__init__(f"{call} ended: the communicator was aborted (abort() from another thread)")

    def __reduce__(self) -> tuple:
        return type(self), (self.call,)


class NcclUnavailableError(NotImplementedError):
    """An NCCL entry point (or data type) this process cannot call: the NCCL it loaded is older
    than the release that brought it or, given ``header``, the NCCL header the extension was built
    against was. ``comm.supports()`` and ``ncclkit.nccl_features()`` tell beforehand."""

    def __init__(self, name: str, since: str, loaded: str, library: str, header: str | None = None) -> None:
        self.name = name
        self.since = since
        self.loaded = loaded
        self.library = library
        self.header = header
        if header is None:
            text = (
                f"{name} came with NCCL {since}, and the NCCL this process loaded is {loaded} "
                f"({library or 'unknown file'}). Fix: load NCCL {since} or newer (a newer nvidia-nccl wheel, "
                "or a torch that pins one), or ask ncclkit.nccl_features() first and do without it"
            )
        else:
            text = (
                f"{name} came with NCCL {since}, and ncclkit was built against the header of NCCL {header}, "
                f"so it is not compiled in. Fix: rebuild ncclkit against NCCL {since} or newer "
                "(pip install -U nvidia-nccl-cuXX before building, or NCCL_ROOT=<a newer install>)"
            )
        super().__init__(text)

    def __reduce__(self) -> tuple:
        return type(self), (self.name, self.since, self.loaded, self.library, self.header)


class CompatibilityError(RuntimeError):
    """What this machine has does not match what ncclkit, or an extension built with it, was built for."""

    def __init__(self, problems: Sequence[object], module: str | None = None) -> None:
        self.problems = list(problems)
        self.module = module
        lines = [f"- {p}" for p in self.problems]
        info = "ncclkit info" + (f" --extension {module}" if module else "")
        super().__init__(
            f"{module or 'ncclkit'} does not match this machine:\n"
            + "\n".join(lines)
            + f"\n(`NCCLKIT_SKIP_IMPORT_CHECK=1 {info}` shows the build and this machine side by side.)"
        )

    def __reduce__(self) -> tuple:
        return type(self), (self.problems, self.module)


class ExtensionBuildError(RuntimeError):
    """ncclkit.load() could not build an extension: the step that failed and the end of what the
    compiler or CMake said; ``output`` holds all of it and ``log`` the file it is kept in."""

    def __init__(self, message: str, output: str = "", log: str | None = None) -> None:
        self.output = output
        self.log = log
        super().__init__(message)

    def __reduce__(self) -> tuple:
        return type(self), (self.args[0], self.output, self.log)
