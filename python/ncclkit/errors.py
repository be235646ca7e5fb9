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
