"""The veriml client: models, quotes, paid inference requests, and their verified results
checked against a finalised header's state root (no trust in the node asked)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException
from substrateinterface.utils.hasher import xxh128

from . import tensors
from .errors import (
    ChainError,
    ProofMismatch,
    RequestClosed,
    ResultFailed,
    TransactionRefused,
    VerimlError,
    chain_error,
)
from .archive import ArchiveProofError, check_archived_receipt
from . import content
from .trie import ProofError, read_proven

#: A dev node's RPC (``./scripts/local-network.sh --dev``).
DEFAULT_URL = "ws://127.0.0.1:9944"
#: One VML in planck.
VML = 10**12


def blake2_256(data: bytes) -> bytes:
    """The chain's hash of models, inputs and outputs."""
    return hashlib.blake2b(data, digest_size=32).digest()


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _bytes(value: str | bytes) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def _lower_camel(name: str) -> str:
    """A pallet's name as polkadot.js writes it (``Inference`` → ``inference``)."""
    return name[:1].lower() + name[1:]


#: ``veriml_quote``'s error codes (docs/rpc.md) and the request errors they stand for.
_QUOTE_ERRORS = {7001: "UnknownModel", 7005: "ModelDeprecated", 7006: "ModelTooCostlyToVerify"}


@dataclass(frozen=True)
class Quote:
    """What a request of a model holds in escrow now, in planck (``veriml_quote``)."""

    model_price: int
    execution: int
    protocol: int
    total: int


@dataclass
class Result:
    """A request's verified, finalised result, its receipt proven from a finalised header."""

    request: int
    #: The model's outputs, each by its own dtype.
    outputs: list[np.ndarray]
    #: The receipt (``pallet_verification::Receipt``) as stored, decoded.
    receipt: dict
    result_hash: str
    #: The inference node that computed it.
    executor: str
    #: The block whose import verified it.
    verified_in: int
    #: The finalised block whose state root proves the receipt.
    proven_by: int
    proven_by_hash: str


class Request:
    """A request made on chain: its id, the block that took it; :meth:`wait` for its result."""

    def __init__(self, client: "Client", request: int, block_hash: str, assigned: list[str]):
        self.client, self.id, self.block_hash, self.assigned = client, request, block_hash, assigned

    def status(self, at: str | None = None) -> dict | None:
        """``veriml_request`` at block ``at`` (default: the best block); ``None`` if the request
        was not made by then."""
        return self.client._request_status(self.id, at)

    def wait(self, timeout: float = 180.0, poll: float = 1.0) -> Result:
        """Waits until the request is settled in a finalised block, then returns its outputs
        with the receipt proven against that block's state root. Raises :class:`ResultFailed`
        if the model failed on the inputs, :class:`RequestClosed` if the request ended without
        a result, :class:`TimeoutError` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            head = self.client.substrate.get_chain_finalised_head()
            status = self.status(head)
            if status is not None and status["status"] in ("completed", "failed", "closed"):
                return self.client._final_result(self.id, status, head)
            if time.monotonic() > deadline:
                raise TimeoutError(f"request {self.id} has no final result after {timeout} s")
            time.sleep(poll)

    def cancel(self, signer: Keypair | None = None) -> None:
        """Cancels the request while no node has answered it; the fee is refunded."""
        self.client._submit("Inference", "cancel", {"request": self.id}, signer)


@dataclass
class Streamed:
    """A generation as ``veriml_subscribeTokens`` streamed it, up to its final status."""

    #: The tokens the node's worker chose, in order (none from a node that did not generate it).
    tokens: list[int]
    #: Their text, by the decoder's tokenizer.
    text: str
    #: How the node's run ended: ``stopToken``, ``maxTokens`` or ``failed``; ``None`` if not streamed.
    end: str | None
    #: The last answer that entered a block: ``node``, ``tokens``, ``stepsRoot``, ``engineVersion``, ``settlesAt``.
    answer: dict | None
    #: ``veriml_request``'s final status (``completed``, ``failed`` or ``closed``), with ``finalizedIn``.
    result: dict


class Generation(Request):
    """A generation request made on chain: :meth:`stream` its tokens as the node chooses them,
    :meth:`wait` for its proven result (outputs: the tokens, int64, and the steps' Merkle root)."""

    def stream(self, on_item=None) -> Streamed:
        """Follows ``veriml_subscribeTokens`` until the generation is final, calling ``on_item``
        with each notification (a dict whose ``kind`` is ``tokens``, ``generated``, ``proposed``,
        ``restarted`` or ``result``). Only the node generating it (the one assigned) streams tokens: connect to its
        RPC. Returns what was streamed and the final status."""
        streamed = Streamed(tokens=[], text="", end=None, answer=None, result={})
        subscription = []

        def handle(message, _update, subscription_id):
            subscription[:] = [subscription_id]
            item = message["params"]["result"]
            if on_item is not None:
                on_item(item)
            if item["kind"] == "restarted":
                # The node ran it again and chose other tokens (its engine changed): sent again.
                streamed.tokens.clear()
                streamed.text, streamed.end = "", None
            elif item["kind"] == "tokens":
                streamed.tokens.extend(item["tokens"])
                streamed.text += item.get("text") or ""
            elif item["kind"] == "generated":
                streamed.end = item["end"]
                streamed.text += item.get("text") or ""
            elif item["kind"] == "proposed":
                streamed.answer = item["answer"]
            elif item["kind"] == "result":
                streamed.result = item
                return item
            # A kind this client does not know yet: passed to ``on_item`` only.
            return None

        try:
            self.client.substrate.rpc_request("veriml_subscribeTokens", [self.id], result_handler=handle)
        except SubstrateRequestException as error:
            raise VerimlError(f"generation {self.id} cannot be streamed: {error}") from error
        except BaseException:
            # ``on_item`` raised, or the caller interrupted: the node stops sending.
            if subscription:
                self.client._rpc("veriml_unsubscribeTokens", subscription)
            raise
        return streamed


class Client:
    """A connection to a veriml node, optionally with a default signer for transactions.

    >>> client = Client("ws://127.0.0.1:9944", signer=Client.dev_account("Dave"))
    >>> result = client.infer(model_hash, [np.array([[1.0, 2.0, 3.0]], dtype=np.float32)])
    >>> result.outputs[0]
    """

    def __init__(self, url: str = DEFAULT_URL, signer: Keypair | None = None):
        self.url = url
        self.signer = signer
        # Types come from the runtime's metadata; SS58 prefix 42 (generic Substrate).
        self.substrate = SubstrateInterface(url=url, ss58_format=42)

    def close(self) -> None:
        self.substrate.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def dev_account(name: str) -> Keypair:
        """A well-known dev account (``Alice``, ``Bob``, …; funded on dev and local chains)."""
        return Keypair.create_from_uri(f"//{name}")

    # Reads.

    def quote(self, model: str) -> Quote:
        """What a request of ``model`` (its content hash) holds in escrow now. Raises
        :class:`UnknownModel` (or the chain's other refusal) if it takes no requests."""
        try:
            answer = self._rpc("veriml_quote", [model])
        except SubstrateRequestException as error:
            raise self._quote_error(error) from None
        return Quote(*(int(answer[k]) for k in ("modelPrice", "execution", "protocol", "total")))

    def model(self, model: str) -> dict | None:
        """The registered model (``models.models``), ``None`` if none has this hash."""
        record = self.substrate.query("Models", "Models", [model])
        return record.value if record is not None and record.value is not None else None

    def model_bytes(self, model: str) -> bytes:
        """The model's ONNX bytes as the chain stores them, checked against its hash."""
        data = _bytes(self._rpc("veriml_modelBytes", [model]))
        if _hex(blake2_256(data)) != model:
            raise ProofMismatch(f"the node's bytes of model {model} hash to something else")
        return data

    # Models.

    def upload_model(self, model: str | Path | bytes, signer: Keypair | None = None) -> str:
        """Uploads an ONNX file's bytes to the chain in chunks (a deposit is held while they are
        kept) and returns its content hash, which :meth:`register_model` takes. Nothing is sent
        if the model is registered already."""
        data = model if isinstance(model, bytes) else Path(model).read_bytes()
        model_hash = _hex(blake2_256(data))
        if self.model(model_hash) is not None:
            return model_hash
        uploader = (signer or self.signer or Keypair.create_from_uri("//unused")).ss58_address
        chunk = int(self.substrate.get_constant("Models", "MaxChunkBytes").value)
        # An upload this account began before (an interrupted run) is resumed where it stopped.
        if self.substrate.query("Models", "Uploads", [uploader, model_hash]).value is None:
            self._submit("Models", "begin_upload", {"model_hash": model_hash, "byte_len": len(data)}, signer)
        for index in range(0, (len(data) + chunk - 1) // chunk):
            if self.substrate.query("Models", "UploadChunks", [uploader, model_hash, index]).value is not None:
                continue
            part = data[index * chunk : (index + 1) * chunk]
            self._submit("Models", "upload_chunk", {"model_hash": model_hash, "index": index, "bytes": part}, signer)
        return model_hash

    def register_model(
        self,
        model: str,
        name: str,
        inputs: Sequence[tuple[str, Sequence[int]]] | Sequence[np.ndarray],
        price: int,
        version: int = 1,
        signer: Keypair | None = None,
    ) -> dict:
        """Registers uploaded bytes as model ``name`` ``version`` taking ``inputs`` (``(dtype,
        shape)`` pairs, or sample arrays) at ``price`` planck per inference; the engine checks
        it and measures its cost in the same block. Returns the ``models.ModelRegistered`` event."""
        specs = [
            {"dtype": tensors.chain_dtype(s.dtype), "shape": list(s.shape)}
            if isinstance(s, np.ndarray)
            else {"dtype": tensors.chain_dtype(s[0]), "shape": list(s[1])}
            for s in inputs
        ]
        receipt = self._submit(
            "Models",
            "register_model",
            {"model_hash": model, "name": name.encode(), "version": version, "inputs": specs, "price_per_inference": price},
            signer,
        )
        return self._event(receipt.triggered_events, "Models", "ModelRegistered")

    def register_decoder(
        self,
        model: str,
        tokenizer: str,
        name: str,
        context_length: int,
        price_per_token: int,
        version: int = 1,
        signer: Keypair | None = None,
    ) -> dict:
        """Registers uploaded bytes as the decoder ``name`` ``version`` (Hugging Face's layout, as
        ``optimum`` exports it) for generations of at most ``context_length`` tokens, with the
        uploaded ``tokenizer.json`` of hash ``tokenizer`` (upload both with :meth:`upload_model`),
        at ``price_per_token`` planck. The engine checks it at the context's last step and
        measures that step's cost. Returns the ``models.DecoderRegistered`` event."""
        receipt = self._submit(
            "Models",
            "register_decoder",
            {
                "model_hash": model,
                "name": name.encode(),
                "version": version,
                "context_length": context_length,
                "tokenizer_hash": tokenizer,
                "price_per_token": price_per_token,
            },
            signer,
        )
        return self._event(receipt.triggered_events, "Models", "DecoderRegistered")

    def decoder(self, model: str) -> dict | None:
        """The registered decoder's terms (``models.decoders``: context length, layers, heads,
        head size, tokenizer hash and length, its graph's inputs in order), ``None`` if ``model``
        is no registered decoder."""
        terms = self.substrate.query("Models", "Decoders", [model])
        return terms.value if terms is not None and terms.value is not None else None

    def tokenizer(self, model: str) -> bytes:
        """The ``tokenizer.json`` registered with the decoder ``model``, checked against the hash
        its terms record."""
        terms = self.decoder(model)
        if terms is None:
            raise VerimlError(f"{model} is not a registered decoder")
        value = self.substrate.query("Models", "Tokenizers", [model]).value
        # The SCALE codec hands bytes that are UTF-8 back as text (a tokenizer.json is), others
        # as hex; the hash below checks whichever it was.
        data = value.encode() if isinstance(value, str) and not value.startswith("0x") else _bytes(value)
        if _hex(blake2_256(data)) != terms["tokenizer_hash"]:
            raise ProofMismatch(f"the node's tokenizer of decoder {model} hashes to something else")
        return data

    # Content store.

    def store_content(self, data: bytes, retain_for: int, signer: Keypair | None = None) -> dict:
        """Stores ``data`` in the content store for ``retain_for`` blocks once complete (a
        deposit is held; the retention fee is paid): ``contentStore.beginStore`` with its chunks'
        hashes, a ``contentStore.storeChunk`` per chunk, then ``contentStore.storeFileNode``
        (the item's UnixFS file node: IPFS clients read the whole item under one CID,
        ``content.file_cid``). Returns the ``ContentStored`` event (``root``,
        ``retained_until``, …)."""
        chunk = int(self.substrate.get_constant("ContentStore", "ChunkBytes").value)
        chunks = content.split_chunks(data, chunk)
        hashes = [content.chunk_hash(c) for c in chunks]
        root = _hex(content.content_root(hashes))
        self._submit(
            "ContentStore",
            "begin_store",
            {"byte_len": len(data), "chunk_hashes": [_hex(h) for h in hashes], "retain_for": retain_for},
            signer,
        )
        receipt = None
        for index, part in enumerate(chunks):
            receipt = self._submit("ContentStore", "store_chunk", {"root": root, "index": index, "data": part}, signer)
        stored = self._event(receipt.triggered_events, "ContentStore", "ContentStored")
        node = content.file_node(len(data), chunk, hashes)
        try:
            self._submit("ContentStore", "store_file_node", {"root": root, "node": node}, signer)
        except ChainError as error:
            # The same bytes were stored before, file node and all.
            if error.name != "FileNodeStored":
                raise
        return stored

    def fetch_content(self, root: str) -> bytes:
        """The bytes of the stored item ``root``: its chunk list from state, each chunk from the
        node (``veriml_contentChunk``), every chunk checked against its hash and the list against
        the root. Raises ``VerimlError`` if no such item is stored, ``ProofMismatch`` if the node's
        bytes do not check."""
        listed = self.substrate.query("ContentStore", "ItemChunks", [root])
        if listed is None or listed.value is None:
            raise VerimlError(f"no item {root} is stored")
        hashes = [_bytes(h) for h in listed.value]
        if _hex(content.content_root(hashes)) != root:
            raise ProofMismatch(f"the chunk list of {root} does not make its root")
        parts = []
        for index, expected in enumerate(hashes):
            part = _bytes(self._rpc("veriml_contentChunk", [_hex(expected)]))
            if content.chunk_hash(part) != expected:
                raise ProofMismatch(f"chunk {index} of {root} does not hash to its place")
            parts.append(part)
        return b"".join(parts)

    # Inference.

    def request(
        self,
        model: str,
        inputs: Iterable[np.ndarray],
        max_fee: int | None = None,
        signer: Keypair | None = None,
    ) -> Request:
        """Requests an inference of ``model`` on ``inputs``, paying at most ``max_fee`` planck
        (default: the current quote) into escrow; returns once a block has taken the request."""
        if max_fee is None:
            max_fee = self.quote(model).total
        encoded = [tensors.encode(np.asarray(x)) for x in inputs]
        receipt = self._submit(
            "Inference", "request", {"model": model, "inputs": encoded, "max_fee": max_fee}, signer
        )
        request = int(self._event(receipt.triggered_events, "Inference", "Requested")["request"])
        return Request(self, request, receipt.block_hash, self._assigned(receipt.block_hash, request))

    def _assigned(self, block_hash: str, request: int) -> list[str]:
        """The nodes drawn for ``request`` in block ``block_hash`` (at its end, from its randomness)."""
        assigned: list[str] = []
        for record in self.substrate.get_events(block_hash):
            event = record.value["event"]
            if (event["module_id"], event["event_id"]) == ("Inference", "Assigned"):
                if int(event["attributes"]["request"]) == request:
                    assigned = list(event["attributes"]["nodes"])
        return assigned

    def tokenize(self, model: str, text: str) -> tuple[list[int], list[int]]:
        """The prompt tokens of ``text`` by the registered decoder ``model``'s tokenizer (as
        ``veriml-node infer --generate`` encodes a prompt) and its special tokens, where a
        generation stops by default (``veriml_tokenize``). Raises :class:`UnknownModel` if
        ``model`` is not a registered decoder."""
        try:
            answer = self._rpc("veriml_tokenize", [model, text])
        except SubstrateRequestException as error:
            # 7001: not a registered decoder, as ``inference.generate`` would refuse it.
            raise self._quote_error(error) from error
        return list(answer["tokens"]), list(answer["stopTokens"])

    def generate(
        self,
        model: str,
        prompt: Sequence[int],
        max_tokens: int,
        stop_tokens: Sequence[int] = (),
        sampling: dict | None = None,
        max_fee: int = 10 * VML,
        signer: Keypair | None = None,
    ) -> Generation:
        """Requests at most ``max_tokens`` tokens of the decoder ``model`` after ``prompt`` (token
        ids: :meth:`tokenize`), ending at any of ``stop_tokens``: greedy, or sampled with
        ``sampling`` = ``{"temperature_milli": .., "top_k": .., "top_p_micro": ..}`` from a seed the
        chain draws. Holds the fee for ``max_tokens`` (at most ``max_fee``; the part for tokens not
        made is refunded) and returns once a block has taken the request."""
        choice = "Greedy" if sampling is None else {"Seeded": sampling}
        params = {
            "model": model,
            "prompt": list(prompt),
            "max_tokens": max_tokens,
            "stop_tokens": list(stop_tokens),
            "sampling": choice,
            "max_fee": max_fee,
        }
        receipt = self._submit("Inference", "generate", params, signer)
        request = int(self._event(receipt.triggered_events, "Inference", "Requested")["request"])
        return Generation(self, request, receipt.block_hash, self._assigned(receipt.block_hash, request))

    def infer(
        self,
        model: str,
        inputs: Iterable[np.ndarray],
        max_fee: int | None = None,
        signer: Keypair | None = None,
        timeout: float = 180.0,
    ) -> Result:
        """Requests an inference and waits for its verified, finalised result, the receipt
        proven against a finalised header (see :meth:`request`, :meth:`Request.wait`)."""
        return self.request(model, inputs, max_fee, signer).wait(timeout)

    # Internals.

    def _rpc(self, method: str, params: list):
        answer = self.substrate.rpc_request(method, params)
        if "error" in answer:
            raise SubstrateRequestException(answer["error"])
        return answer["result"]

    def _request_status(self, request: int, at: str | None) -> dict | None:
        try:
            return self._rpc("veriml_request", [request] + ([at] if at else []))
        except SubstrateRequestException as error:
            answer = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
            if answer.get("code") == 7007:  # not made by that block (yet)
                return None
            raise

    def _final_result(self, request: int, status: dict, finalized: str) -> Result:
        if status["status"] == "closed":
            raise RequestClosed(f"request {request} ended without a result (expired, cancelled or abandoned)")
        if status["status"] == "failed":
            raise ResultFailed(request, status.get("error", "?"))
        # The receipt, proven against the finalised header's state root.
        proof = self._rpc("veriml_receiptProof", [request, finalized])
        header = self.substrate.get_block_header(proof["at"])["header"]
        proven = read_proven(_bytes(header["stateRoot"]), [_bytes(n) for n in proof["proof"]], _bytes(proof["key"]))
        if proven is None or proven != _bytes(proof["receipt"]):
            raise ProofMismatch(f"request {request}: the receipt is not proven by block {proof['at']}'s state root")
        receipt_type = self.substrate.get_metadata_storage_function("Verification", "Receipts").get_value_type_string()
        receipt = self.substrate.decode_scale(receipt_type, proof["receipt"])
        # The receipt commits to the outputs the node handed over, and to their result hash.
        outputs_bytes = _bytes(status["outputs"])
        committed = receipt["outcome"].get("Outputs") if isinstance(receipt["outcome"], dict) else None
        if committed is None:
            raise ProofMismatch(f"request {request}: the proven receipt holds no outputs")
        if committed["output_hash"] != _hex(blake2_256(outputs_bytes)):
            raise ProofMismatch(f"request {request}: the outputs are not those the receipt commits to")
        if committed["result_hash"] != status["resultHash"]:
            raise ProofMismatch(f"request {request}: the result hash is not the receipt's")
        outputs = tensors.scale_decode(outputs_bytes)
        return Result(
            request=request,
            outputs=outputs,
            receipt=receipt,
            result_hash=status["resultHash"],
            executor=status["executor"],
            verified_in=int(status["verifiedIn"]),
            proven_by=int(header["number"]),
            proven_by_hash=proof["at"],
        )

    def archived_receipt(self, request: int, verified_in: int, at: str | None = None) -> dict:
        """The receipt of ``request`` kept in block ``verified_in`` (``Result.verified_in``), from
        the node's archive, proven against the Merkle Mountain Range root in the header of block
        ``at``: a block hash you trust (left out: the node's last finalised block, trusting the
        node for that hash). Works before and after the receipt's retention in state; ``at``'s
        state must still be kept by the node. Returns the decoded receipt; raises
        ``ProofMismatch`` if the node's answer does not prove it, ``VerimlError`` with the node's
        reason if it has no proof to give."""
        try:
            archived = self._rpc("veriml_archivedReceipt", [request, verified_in] + ([at] if at else []))
        except SubstrateRequestException as error:
            # 7002: no such receipt in that block; 7009: no archive of it; 7010: no leaf yet.
            raise VerimlError(f"request {request} in block #{verified_in}: {error}") from error
        if at is not None and archived["at"] != at:
            raise ProofMismatch(f"the node answered for block {archived['at']}, not {at}")
        header = self._rpc("chain_getHeader", [archived["at"]])
        # The range's leaf count at that block, proven against its state root, under its fixed key.
        key = bytes(xxh128(b"Mmr") + xxh128(b"NumberOfLeaves"))
        proof = self._rpc("state_getReadProof", [[_hex(key)], archived["at"]])
        try:
            count = read_proven(_bytes(header["stateRoot"]), [_bytes(n) for n in proof["proof"]], key)
            if count is None:
                raise ArchiveProofError("the range has no leaves at that block")
            check_archived_receipt(archived, header, int.from_bytes(count, "little"), request, verified_in)
        except (ArchiveProofError, ProofError) as error:
            raise ProofMismatch(f"request {request}: {error}") from error
        receipt_type = self.substrate.get_metadata_storage_function("Verification", "Receipts").get_value_type_string()
        return self.substrate.decode_scale(receipt_type, archived["receipt"])

    @staticmethod
    def input_hash(inputs: Iterable[np.ndarray]) -> str:
        """``blake2_256(SCALE(inputs))``: what a request's receipt commits its inputs by."""
        return _hex(blake2_256(tensors.scale_encode([np.asarray(x) for x in inputs])))

    def _submit(self, module: str, function: str, params: dict, signer: Keypair | None):
        signer = signer or self.signer
        if signer is None:
            raise VerimlError(f"{_lower_camel(module)}.{function} needs a signer: Client(url, signer=…) or signer=…")
        self.substrate.init_runtime()
        fields = self.substrate.get_metadata_call_function(module, function).value["fields"]
        params = {f["name"]: self._fit(f"scale_info::{f['type']}", params[f["name"]]) for f in fields if f["name"] in params}
        call = self.substrate.compose_call(call_module=module, call_function=function, call_params=params)
        extrinsic = self.substrate.create_signed_extrinsic(call=call, keypair=signer)
        try:
            receipt = self.substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True)
        except SubstrateRequestException as error:
            raise TransactionRefused(f"{_lower_camel(module)}.{function}: {error}") from None
        if not receipt.is_success:
            raise self._dispatch_error(receipt, module, function)
        return receipt

    def _fit(self, type_string: str, value):
        """``value`` shaped as the SCALE codec takes ``type_string``: a ``BoundedVec`` (which the
        metadata describes as a one-field tuple around its ``Vec``) wrapped in a list, all the
        way down; byte strings stay as they are."""
        if isinstance(value, (bytes, str)):
            return value
        obj = self.substrate.runtime_config.create_scale_object(type_string)
        kinds = {cls.__name__ for cls in type(obj).__mro__}
        mapping = getattr(obj, "type_mapping", None) or []
        if "Tuple" in kinds and len(mapping) == 1:
            return [self._fit(mapping[0], value)]
        if "Struct" in kinds and isinstance(value, dict):
            return {name: self._fit(ty, value[name]) if name in value else None for name, ty in mapping}
        if "Vec" in kinds and isinstance(value, (list, tuple)):
            return [self._fit(obj.sub_type, v) for v in value]
        return value

    def _dispatch_error(self, receipt, module: str, function: str) -> VerimlError:
        for record in receipt.triggered_events:
            event = record.value["event"]
            if (event["module_id"], event["event_id"]) != ("System", "ExtrinsicFailed"):
                continue
            error = event["attributes"]["dispatch_error"]
            if isinstance(error, dict) and "Module" in error:
                index, code = error["Module"]["index"], error["Module"]["error"]
                code = int(code[2:4], 16) if isinstance(code, str) else code[0] if isinstance(code, (list, tuple)) else code
                pallet = next(p for p in self.substrate.metadata.pallets if p.value["index"] == index)
                found = self.substrate.metadata.get_module_error(module_index=index, error_index=code)
                return chain_error(_lower_camel(pallet.name), found.name, " ".join(found.docs).strip())
            return ChainError("system", str(error), "")
        message = receipt.error_message or {}
        return ChainError(_lower_camel(module), str(message.get("name", "failed")), str(message.get("docs", "")))

    def error_docs(self, pallet: str, name: str) -> str:
        """The documentation of the chain's error ``pallet.name`` from the runtime's metadata."""
        found = self.substrate.get_metadata_error(pallet, name)
        docs = found.value.get("docs", []) if found is not None else []
        return " ".join(docs).strip()

    def _quote_error(self, error: SubstrateRequestException) -> VerimlError:
        """``veriml_quote``'s refusal (docs/rpc.md's error codes) as the error the chain would
        give the request itself."""
        answer = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
        name = _QUOTE_ERRORS.get(answer.get("code"))
        if name is None:
            return VerimlError(f"veriml_quote: {error}")
        return chain_error("inference", name, self.error_docs("Inference", name))

    @staticmethod
    def _event(events, module: str, name: str) -> dict:
        for record in events:
            event = record.value["event"]
            if (event["module_id"], event["event_id"]) == (module, name):
                return event["attributes"]
        raise VerimlError(f"no {_lower_camel(module)}.{name} event")


__all__ = ["Client", "Quote", "Request", "Result", "VML", "blake2_256"]
