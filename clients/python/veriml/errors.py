"""Typed exceptions: what the chain refused, by the pallet error it named, with its documentation."""

from __future__ import annotations


class VerimlError(Exception):
    """Anything this client raises about veriml."""


class ChainError(VerimlError):
    """The chain refused a call with a named error (``pallet.Name``) whose documentation is
    ``docs``, as the runtime's metadata gives it."""

    #: The error this class stands for (subclasses), e.g. ``"UnknownModel"``.
    error_name: str | None = None

    def __init__(self, pallet: str, name: str, docs: str):
        self.pallet, self.name, self.docs = pallet, name, docs
        super().__init__(f"{pallet}.{name}: {docs}" if docs else f"{pallet}.{name}")


class UnknownModel(ChainError):
    """No model is registered under this hash (``inference.UnknownModel``)."""

    error_name = "UnknownModel"


class ModelDeprecated(ChainError):
    """The model's owner deprecated it: it takes no new requests (``inference.ModelDeprecated``)."""

    error_name = "ModelDeprecated"


class FeeAboveMax(ChainError):
    """The request's fee is above the ``max_fee`` it was sent with (``inference.FeeAboveMax``)."""

    error_name = "FeeAboveMax"


class InputMismatch(ChainError):
    """The inputs do not match the model's input specs, or a tensor's bytes its dtype and shape
    (``inference.InputDoesNotMatchModel``, ``inference.MalformedTensor``,
    ``inference.InputTooLarge``)."""

    error_name = "InputDoesNotMatchModel"


class InsufficientBalance(ChainError):
    """The account cannot pay the fee into escrow (``inference.InsufficientBalance``)."""

    error_name = "InsufficientBalance"


class NoNodeAvailable(ChainError):
    """No inference node serves the model and the waiting queue is full
    (``inference.NoNodeAvailable``)."""

    error_name = "NoNodeAvailable"


_BY_NAME: dict[str, type[ChainError]] = {
    cls.error_name: cls
    for cls in (UnknownModel, ModelDeprecated, FeeAboveMax, InputMismatch, InsufficientBalance, NoNodeAvailable)
}
_BY_NAME["MalformedTensor"] = InputMismatch
_BY_NAME["InputTooLarge"] = InputMismatch


def chain_error(pallet: str, name: str, docs: str) -> ChainError:
    """The exception for the chain's error ``pallet.name``: its own class where this client has
    one, else :class:`ChainError`."""
    return _BY_NAME.get(name, ChainError)(pallet, name, docs)


class TransactionRefused(VerimlError):
    """The node's transaction pool refused the transaction before any block took it (invalid
    signature or nonce, unpayable fee, a call the runtime refuses to validate)."""


class ResultFailed(VerimlError):
    """The request's verified outcome is the engine's error ``error`` (every honest node reached
    it: the model failed on these inputs), not outputs."""

    def __init__(self, request: int, error: str):
        self.request, self.error = request, error
        super().__init__(f"request {request}: the model failed on its inputs: {error}")


class RequestClosed(VerimlError):
    """The request ended without a result: expired, cancelled or abandoned (its fee refunded)."""


class ProofMismatch(VerimlError):
    """The receipt proven against the finalised header does not commit to what the node said."""
