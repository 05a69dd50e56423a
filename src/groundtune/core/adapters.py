"""Finding a trained adapter by name or path, and reading the manifest it carries.

Training writes `<workspace>/adapters/<name>/` (PEFT files plus `groundtune-adapter.json`: base
model, prompt layout, grounding format and version, retriever hash). Evaluation and serving read
it here so they never guess the format an adapter was trained with. Nothing after training writes
into an adapter (abstention thresholds are calibration artifacts, `core.calibrations`). Pure file access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from groundtune.core.artifacts import AdapterManifest, migrate_adapter
from groundtune.core.errors import NotFoundError
from groundtune.core.jsonfile import read_json
from groundtune.core.workspace import get_workspace

ADAPTER_MANIFEST = "groundtune-adapter.json"
# Adapters that ship with the package (the general grounding stage), found by name after the workspace's.
SHIPPED = Path(__file__).resolve().parent / "shipped"


@dataclass(frozen=True)
class AdapterRef:
    """A resolved adapter: its name, folder and manifest (all None for a plain PEFT folder)."""

    name: str
    path: Path
    manifest: AdapterManifest = field(default_factory=AdapterManifest)

    @property
    def grounding_style(self) -> str | None:
        return self.manifest.grounding_style

    @property
    def retriever_hash(self) -> str | None:
        return self.manifest.retriever_hash

    @property
    def run_id(self) -> str | None:
        """The training run that made it (a retrained adapter of the same name has another)."""
        return self.manifest.run_id


AUTO_INIT = "auto"
"""`init_adapter: auto`: the shipped general grounding adapter when it was trained on the model being
tuned (`shipped_init`), else a new adapter."""
GENERAL = "general"


def shipped_init(model: str) -> str | None:
    """What `init_adapter: auto` continues for `model`: the folder of the general adapter shipped
    with this package (not a workspace adapter of that name) when it was trained on `model`, else
    None (training starts a new adapter)."""
    folder = SHIPPED / GENERAL
    manifest_file = folder / ADAPTER_MANIFEST
    if not manifest_file.is_file():
        return None
    return str(folder) if migrate_adapter(read_json(manifest_file)).model == model else None


def resolve_adapter(ref: str | Path, home: str | Path | None = None, name: str | None = None) -> AdapterRef:
    """`ref` is a registered adapter name, an adapter folder, a training run folder (its `adapter/`), or
    the name of an adapter shipped with the package (`general`)."""
    ws = get_workspace(home)
    candidates = [
        ws.adapters / str(ref),
        Path(ref).expanduser(),
        Path(ref).expanduser() / "adapter",
        SHIPPED / str(ref),
    ]
    for path in candidates:
        if (path / "adapter_config.json").is_file():
            manifest_file = path / ADAPTER_MANIFEST
            manifest = (
                migrate_adapter(read_json(manifest_file)) if manifest_file.is_file() else AdapterManifest()
            )
            return AdapterRef(name or manifest.adapter_name or path.name, path.resolve(), manifest)
    known = sorted(
        p.name
        for folder in (ws.adapters, SHIPPED)
        if folder.is_dir()
        for p in folder.iterdir()
        if (p / "adapter_config.json").is_file()
    )
    raise NotFoundError(
        f"no adapter '{ref}'",
        hint=f"registered adapters: {', '.join(known) or 'none yet'}; or pass an adapter or run folder",
    )
