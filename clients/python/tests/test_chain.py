"""The Python client against a running dev node (VERIML_WS, e.g. ws://127.0.0.1:9944; CI starts
one): the quick start's journey, and user errors raised as typed exceptions naming the chain's
error and its documentation."""

import json
import os
from pathlib import Path
import time
from importlib import resources

import numpy as np
import pytest

import veriml
from veriml import Client, content, quickstart
from veriml.nodes import serve_on_dev_node

URL = os.environ.get("VERIML_WS")
pytestmark = pytest.mark.skipif(not URL, reason="VERIML_WS (a dev node's RPC) is not set")


def test_the_quick_start_registers_pays_and_proves_an_inference(capsys):
    assert quickstart.main(["--url", URL, "--expect", "4.75"]) == 0
    printed = capsys.readouterr().out
    assert "output 0: f32[1, 1] = [4.75]" in printed
    assert "receipt proven by block #" in printed
    # Run again, as a newcomer would: the model is registered and served already.
    assert quickstart.main(["--url", URL, "--expect", "4.75"]) == 0
    assert "registered already" in capsys.readouterr().out


@pytest.fixture(scope="module")
def client():
    with Client(URL, signer=Client.dev_account("Eve")) as client:
        yield client


@pytest.fixture(scope="module")
def linear(client):
    """The quick start's model, registered and served (the first test, or this, registers it)."""
    assert quickstart.main(["--url", URL]) == 0
    data = (resources.files("veriml") / "models" / "linear.onnx").read_bytes()
    return "0x" + veriml.blake2_256(data).hex()


def test_infer_returns_outputs_by_dtype_with_the_proven_receipt(client, linear):
    x = np.array([[2.0, 0.0, -1.0]], dtype=np.float32)
    result = client.infer(linear, [x])
    # 0.5·2 − 1.25·0 + 2·(−1) + 0.75
    assert result.outputs[0].dtype == np.float32
    np.testing.assert_allclose(result.outputs[0], [[-0.25]], atol=1e-6)
    assert result.receipt["model_hash"] == linear
    assert result.receipt["input_hash"] == client.input_hash([x])
    assert result.proven_by >= result.verified_in


def test_an_unknown_model_raises_unknown_model_with_the_chains_docs(client):
    with pytest.raises(veriml.UnknownModel) as raised:
        client.infer("0x" + "ab" * 32, [np.zeros((1, 3), dtype=np.float32)])
    assert raised.value.pallet == "inference" and raised.value.name == "UnknownModel"
    assert raised.value.docs, "the error's documentation from the runtime's metadata"


def test_a_fee_above_max_raises_fee_above_max(client, linear):
    with pytest.raises(veriml.FeeAboveMax) as raised:
        client.request(linear, [np.zeros((1, 3), dtype=np.float32)], max_fee=1)
    assert str(raised.value).startswith("inference.FeeAboveMax: ")


def test_malformed_inputs_raise_input_mismatch(client, linear):
    with pytest.raises(veriml.InputMismatch) as raised:
        client.request(linear, [np.zeros((1, 4), dtype=np.float32)])
    assert raised.value.name == "InputDoesNotMatchModel" and raised.value.docs


def test_a_request_handle_can_be_waited_on_later(client, linear):
    handle = client.request(linear, [np.ones((1, 3), dtype=np.float32)])
    assert handle.id >= 0 and handle.assigned, "a node was drawn at the end of the request's block"
    result = handle.wait()
    np.testing.assert_allclose(result.outputs[0], [[2.0]], atol=1e-6)  # 0.5 − 1.25 + 2 + 0.75


def test_a_receipt_is_proven_from_the_archive_against_a_later_finalised_header(client, linear):
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    result = client.infer(linear, [x])
    # A block's leaf is appended at the start of the next block: prove against a later one.
    deadline = time.monotonic() + 120
    while True:
        at = client.substrate.get_chain_finalised_head()
        if client.substrate.get_block_number(at) > result.verified_in:
            break
        assert time.monotonic() < deadline, "no later block finalised within 120 s"
        time.sleep(1)
    assert client.archived_receipt(result.request, result.verified_in, at) == result.receipt
    # Another request of that block is not this one.
    with pytest.raises(veriml.VerimlError):
        client.archived_receipt(result.request + 1000, result.verified_in, at)


def test_an_item_stored_out_of_state_is_fetched_back_and_checked(client):
    chunk = int(client.substrate.get_constant("ContentStore", "ChunkBytes").value)
    data = os.urandom(chunk + 4321)
    stored = client.store_content(data, retain_for=100)
    assert int(stored["chunk_count"]) == 2 and int(stored["byte_len"]) == len(data)
    assert client.fetch_content(stored["root"]) == data
    # Its file node is stored: IPFS clients read the whole item under its file CID.
    hashes = [content.chunk_hash(c) for c in content.split_chunks(data, chunk)]
    node = content.file_node(len(data), chunk, hashes)
    listed = client.substrate.query("ContentStore", "FileNodes", [stored["root"]]).value
    assert listed == "0x" + content.file_cid(node)[6:].hex()
    with pytest.raises(veriml.VerimlError):
        client.fetch_content("0x" + "00" * 32)


TEST_MODELS = Path(os.environ.get("VERIML_TEST_MODELS", Path(__file__).resolve().parents[3] / "target" / "test-models"))


def test_a_decoder_is_registered_with_its_tokenizer_and_read_back():
    # The test-model stage's decoder (scripts/models/make-test-models.sh), as a user exports one.
    folder = TEST_MODELS / "generative" / "tiny_decoder"
    with Client(URL, signer=Client.dev_account("Ferdie")) as author:
        model = author.upload_model(folder / "model.onnx")
        tokenizer = author.upload_model(folder / "tokenizer.json")
        registered = author.register_decoder(model, tokenizer, "tiny-decoder", 32, price_per_token=10**9)
        assert registered["model_hash"] == model and int(registered["context_length"]) == 32
        terms = author.decoder(model)
        assert terms["tokenizer_hash"] == tokenizer and int(terms["context_length"]) == 32
        assert author.tokenizer(model) == (folder / "tokenizer.json").read_bytes()
        # Its recorded inputs are its context's last step's: a cache of 31 tokens.
        past = [spec for spec in author.model(model)["inputs"] if spec["dtype"] == "F32"]
        assert past[0]["shape"] == [1, int(terms["heads"]), 31, int(terms["head_size"])]
        # Its graph's inputs in order (what each step feeds where).
        assert terms["inputs"] == ["InputIds", "AttentionMask", "PositionIds", {"PastKey": 0}, {"PastValue": 0}]
        assert author.decoder("0x" + "ab" * 32) is None


@pytest.fixture(scope="module")
def tiny_decoder():
    """The test decoder registered for 32 tokens of context and served (the test above, or
    this, registers it)."""
    folder = TEST_MODELS / "generative" / "tiny_decoder"
    model = "0x" + veriml.blake2_256((folder / "model.onnx").read_bytes()).hex()
    with Client(URL, signer=Client.dev_account("Ferdie")) as author:
        if author.decoder(model) is None:
            tokenizer = author.upload_model(folder / "tokenizer.json")
            author.upload_model(folder / "model.onnx")
            author.register_decoder(model, tokenizer, "tiny-decoder", 32, price_per_token=10**9)
        serve_on_dev_node(author, model, Client.dev_account("Bob"), say=lambda _: None)
    return folder, model


def test_a_generation_streams_its_tokens_then_settles_with_them_proven(client, tiny_decoder):
    folder, model = tiny_decoder
    expected = json.loads((folder / "generation.json").read_text())
    prompt, stop = client.tokenize(model, expected["prompt"])
    assert len(prompt) == 24 and stop == expected["stop_tokens"]
    generation = client.generate(model, prompt, 8, stop)
    kinds = []
    streamed = generation.stream(lambda item: kinds.append(item["kind"]))
    # The greedy tokens onnxruntime chooses for this decoder and prompt, and their text.
    assert streamed.tokens == expected["onnxruntime_tokens"][:8]
    assert streamed.text and expected["onnxruntime_text"].startswith(streamed.text)
    assert streamed.end == "maxTokens" and streamed.answer["tokens"] == streamed.tokens
    assert kinds[-3:] == ["generated", "proposed", "result"] and set(kinds[:-3]) == {"tokens"}
    assert streamed.result["status"] == "completed"
    # The receipt, proven: its outputs are the tokens streamed and the answer's steps root.
    result = generation.wait()
    assert [int(t) for t in result.outputs[0]] == streamed.tokens
    assert "0x" + bytes(result.outputs[1]).hex() == streamed.answer["stepsRoot"]
    with pytest.raises(veriml.UnknownModel):
        client.tokenize("0x" + "ab" * 32, "text")
