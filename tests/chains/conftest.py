"""Chain fixtures: real local nodes (anvil, litecoind regtest), the test ERC-20, and lying
endpoints. See ``tests/chains/nodes.py`` for the helpers each node offers.

Every node fixture is per test and starts on free ports (anvil in ~0.2 s, litecoind in ~1 s),
so a test may stop, restart or reorg its node freely (litecoind starts from a copy of a
prepared datadir: the wallet and 101 blocks are made once per run). Missing tools skip locally and fail
with ``HASHDESK_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chains.nodes import (
    CONTRACTS,
    AnvilNode,
    LitecoinNode,
    LyingServer,
    Token,
    compile_contract,
    find_anvil,
    find_litecoind,
    find_solcjs,
)
from tests.conftest import need_service

TOKEN_SUPPLY = 1_000_000 * 10**6  # one million TUSD (6 decimals)


@pytest.fixture(scope="session")
def anvil_binary() -> Path:
    binary = find_anvil()
    if binary is None:
        need_service("anvil", "run `npm ci` at the repository root (@foundry-rs/anvil)")
    assert binary is not None
    return binary


@pytest.fixture(scope="session")
def litecoind_binary() -> Path:
    binary = find_litecoind()
    if binary is None:
        need_service("litecoind", "apt-get install litecoind")
    assert binary is not None
    return binary


@pytest.fixture(scope="session")
def erc20_bytecode(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test ERC-20 (tests/chains/contracts/TestDollar.sol) compiled once per run."""
    if find_solcjs() is None:
        need_service("solc-js", "run `npm ci` at the repository root (solc)")
    return compile_contract(
        CONTRACTS / "TestDollar.sol", "TestDollar", tmp_path_factory.mktemp("solc")
    )


@pytest.fixture
def anvil(anvil_binary: Path, tmp_path: Path) -> Iterator[AnvilNode]:
    workdir = tmp_path / "anvil"
    workdir.mkdir()
    node = AnvilNode(workdir, anvil_binary)
    node.start()
    yield node
    node.close()


@pytest.fixture
def anvil_token(anvil: AnvilNode, erc20_bytecode: str) -> Token:
    """TUSD deployed on ``anvil``; the whole supply belongs to ``anvil.accounts[0]``."""
    return anvil.deploy_token(erc20_bytecode, TOKEN_SUPPLY, decimals=6)


@pytest.fixture(scope="session")
def litecoin_template(litecoind_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return LitecoinNode.prepare(tmp_path_factory.mktemp("litecoind-template"), litecoind_binary)


@pytest.fixture
def litecoin(
    litecoind_binary: Path, litecoin_template: Path, tmp_path: Path
) -> Iterator[LitecoinNode]:
    """litecoind regtest with 101 blocks mined to its wallet (one spendable coinbase), its
    own copy of the chain: stop, restart and invalidate blocks freely."""
    workdir = tmp_path / "litecoind"
    workdir.mkdir()
    node = LitecoinNode(workdir, litecoind_binary, template=litecoin_template)
    node.start()
    yield node
    node.close()


@pytest.fixture
def lying_rpc() -> Iterator[LyingServer]:
    """A local endpoint that lies; set ``lying_rpc.behaviour`` (default ``wrong_chain``)."""
    server = LyingServer("wrong_chain")
    yield server
    server.close()
