"""Inference nodes: a node key's consent to its operator, and (on a dev chain) making sure a
node serves a model."""

from __future__ import annotations

from substrateinterface import Keypair

from .client import VML, Client

#: The runtime's pallets of bonded nodes and the name their keys sign.
NODE_ROLES = {"InferenceNodes": "InferenceNodes", "DataNodes": "DataNodes", "StorageNodes": "StorageNodes"}


def registration_message(role: str, operator: Keypair) -> bytes:
    """What a node key signs to consent to be registered by ``operator``: ``veriml:<Pallet>:``
    followed by the operator's 32-byte account."""
    return f"veriml:{NODE_ROLES[role]}:".encode() + operator.public_key


def register_node(client: Client, role: str, node: Keypair, services: list, bond: int, operator: Keypair) -> None:
    """``inferenceNodes.register`` / ``dataNodes.register`` / ``storageNodes.register`` of
    ``node``'s account offering ``services`` with ``bond``, signed by ``operator``; the proof is the node key's signature of
    :func:`registration_message`."""
    proof = {"Sr25519": "0x" + node.sign(registration_message(role, operator)).hex()}
    client._submit(
        role,
        "register",
        {"node": node.ss58_address, "services": services, "bond": bond, "proof": proof},
        operator,
    )


def serve_on_dev_node(client: Client, model: str, operator: Keypair, say=print) -> str:
    """On a dev chain: makes sure an inference node of the node ``client`` is connected to
    serves ``model``: its ``infr`` key (//Alice's on ``--dev``, //Charlie's on the local
    network's inference node, else a dev key put in its keystore over RPC), funded and bonded by
    ``operator``. Returns the serving node's address. On a real network an operator runs
    ``veriml-node key insert --key-type infr`` and ``inferenceNodes.register`` instead."""
    serving = client.substrate.query("InferenceNodes", "NodesByService", [model]).value or []
    if serving:
        say(f"served by {', '.join(serving)}")
        return serving[0]
    node = None
    for seed in ("//Alice", "//Charlie"):
        candidate = Keypair.create_from_uri(seed)
        if client._rpc("author_hasKey", ["0x" + candidate.public_key.hex(), "infr"]):
            node = candidate
            break
    if node is None:
        seed = "//veriml-dev-inference-node"
        node = Keypair.create_from_uri(seed)
        public = "0x" + node.public_key.hex()
        if not client._rpc("author_hasKey", [public, "infr"]):
            client._rpc("author_insertKey", ["infr", seed, public])
            say(f"inserted the infr key {node.ss58_address} into the node's keystore")
    record = client.substrate.query("InferenceNodes", "Nodes", [node.ss58_address]).value
    if record is not None:
        if record["operator"] != operator.ss58_address:
            raise ValueError(f"node {node.ss58_address} is operated by {record['operator']}, not {operator.ss58_address}")
        client._submit(
            "InferenceNodes", "set_services", {"node": node.ss58_address, "services": [*record["services"], model]}, operator
        )
        say(f"node {node.ss58_address} now serves the model too (inferenceNodes.setServices)")
        return node.ss58_address
    # The node pays no fee for accepted results, but its account must exist.
    if client.substrate.query("System", "Account", [node.ss58_address]).value["data"]["free"] == 0:
        client._submit("Balances", "transfer_keep_alive", {"dest": node.ss58_address, "value": VML}, operator)
    bond = int(client.substrate.get_constant("InferenceNodes", "MinBond").value)
    register_node(client, "InferenceNodes", node, [model], bond, operator)
    say(f"node {node.ss58_address} bonded with {bond} planck, serving the model (inferenceNodes.register)")
    return node.ss58_address
