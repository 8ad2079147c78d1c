"""The user's systems for `make perf EXPERTS=FILE MCP_CONFIG=FILE` (scripts/perf.py).

One run measures one deployment: the same experts circle for every suite that
sends queries (load, memory, the MCP experts server's `consult`), the MCP servers
of the user's client config for the MCP suite. Which suite takes which of these
is declared in the suite registry (codeperf.harness.suites, `SuiteInfo.takes`);
this module turns the user's choice into each suite's command-line arguments.

`--expert URL` circles are resolved here, once (models discovered with
GET /v1/models), and written as an experts file into the run directory, so every
suite queries the same experts; the file holds names of key variables, never keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codeperf.harness.suites import info

EXPERTS_FILE_NAME = "experts.toml"  # written into the run directory for --expert URLs


class DeploymentError(ValueError):
    """The deployment cannot be used (a remote URL without --allow-remote, discovery failed)."""


@dataclass(frozen=True)
class Deployment:
    experts_file: Path | None = None
    expert_urls: tuple[str, ...] = ()
    api_key_env: str = ""
    mcp_configs: tuple[Path, ...] = ()
    allow_remote: bool = False

    def __post_init__(self) -> None:
        if self.experts_file is not None and self.expert_urls:
            raise DeploymentError("--experts FILE and --expert URL are alternatives; give one")

    @property
    def is_default(self) -> bool:
        """Nothing given: every suite measures its embedded defaults."""
        return self == Deployment()

    def resolve(self, run_dir: Path) -> "Deployment":
        """`--expert` URLs become `<run_dir>/experts.toml` (the loopback rule first, then
        model discovery); DeploymentError says what is wrong, before any suite runs."""
        if not self.expert_urls:
            return self
        from codeperf.experts import config as experts_config
        from codeperf.experts import urls
        from codeperf.harness.loopback import RemoteTargetRefused, check_loopback

        try:
            circle = urls.from_urls(self.expert_urls, api_key_env=self.api_key_env,
                                    check=lambda url: check_loopback(url, self.allow_remote))
        except (urls.ExpertUrlError, RemoteTargetRefused) as exc:
            raise DeploymentError(str(exc)) from None
        path = Path(run_dir) / EXPERTS_FILE_NAME
        path.write_text(experts_config.dump_toml(
            circle, header="The circle of `perf.py " + " ".join(
                f"--expert {u}" for u in self.expert_urls) + "`, models as discovered."),
            encoding="utf-8")
        return Deployment(experts_file=path, mcp_configs=self.mcp_configs,
                          allow_remote=self.allow_remote)

    def describe(self) -> dict[str, object]:
        """For run.json and the driver's log: files and flags only (they hold no secrets)."""
        return {"experts": str(self.experts_file) if self.experts_file else None,
                "mcp_configs": [str(p) for p in self.mcp_configs],
                "allow_remote": self.allow_remote}

    def suite_args(self, suite: str) -> list[str]:
        """The arguments that point `suite`'s script at this deployment (after resolve())."""
        if self.expert_urls:
            raise RuntimeError("resolve() the --expert URLs first")
        takes = info(suite).takes
        args: list[str] = []
        if "experts" in takes and self.experts_file is not None:
            args += ["--experts", str(self.experts_file)]
        if "mcp_config" in takes:
            for path in self.mcp_configs:
                args += ["--config", str(path)]
        if "allow_remote" in takes and self.allow_remote:
            args.append("--allow-remote")
        return args
