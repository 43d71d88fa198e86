"""What configure says, word for word, about a Chains or truss_train file it cannot fully use.

A Python truss is read without running it, so each problem is one line naming the file
and the line of the call (``chain.py:4``), what is wrong there, and, where the value
is code configure will not run, the configure flags that say the same thing, filled
in with what is known. In-process, through the CLI's entry point.
"""

from __future__ import annotations

import os

import pytest

from docker_credential_truss import config

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/pull"
NOT_RUN = "is not a literal, and configure never runs your code; say the same with flags:"
FLAGS = "docker-credential-truss configure"
MORE = "[--<docker_auth field> VALUE]..."
METHODS = "AWS_IAM, AWS_OIDC, AWS_ASSUME_ROLE, GCP_SERVICE_ACCOUNT_JSON, GCP_OIDC, REGISTRY_SECRET"


def configure(cli, tmp_path, *lines: str):
    """configure run on a Python file of these lines; the file's path for the messages."""
    source = tmp_path / "chain.py"
    source.write_text("\n".join(lines) + "\n")
    return cli("configure", str(source)), str(source)


def errors(run) -> list[str]:
    """The errors and warnings about the file (not whether the helper is on PATH)."""
    return [line for line in run.err.splitlines() if line.startswith(("error: /", "warning: /"))]


# --- Chains: CustomImage(image=..., docker_auth=DockerAuthSettings(...) or a dict) -------


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        (
            [
                "import truss_chains as chains",
                "",
                "IMAGE = chains.CustomImage(",
                "    docker_auth=chains.DockerAuthSettings(auth_method='AWS_IAM'),",
                ")",
            ],
            "{path}:3: CustomImage needs image",
        ),
        (
            [
                "from truss_train import definitions",
                "IMAGE = definitions.Image(",
                "    docker_auth=definitions.DockerAuth(auth_method='AWS_IAM'),",
                ")",
            ],
            "{path}:2: Image needs base_image",
        ),
        (
            [
                "import os",
                "import truss_chains as chains",
                "IMAGE = chains.CustomImage(",
                "    image=os.environ['IMAGE'],",
                "    docker_auth=chains.DockerAuthSettings(auth_method='AWS_IAM'),",
                ")",
            ],
            f"{{path}}:3: image os.environ['IMAGE'] {NOT_RUN}"
            f" {FLAGS} --registry HOST --auth-method METHOD {MORE}",
        ),
        (
            [
                "import truss_chains as chains",
                "IMAGE = chains.CustomImage(",
                "    image=5,",
                "    docker_auth=chains.DockerAuthSettings(auth_method='AWS_IAM'),",
                ")",
            ],
            "{path}:2: CustomImage's image should be a string",
        ),
        (
            [
                "import truss_chains as chains",
                "from helpers import make_auth",
                "IMAGE = chains.CustomImage(",
                "    image='ghcr.io/o/i:1',",
                "    docker_auth=make_auth('ghcr.io'),",
                ")",
            ],
            "{path}:3: docker_auth is not a DockerAuthSettings(...) or DockerAuth(...) call"
            f" (make_auth('ghcr.io')); configure reads only literal definitions:"
            f" {FLAGS} --registry HOST --auth-method METHOD {MORE}",
        ),
        (
            [
                "import truss_chains as chains",
                "IMAGE = chains.CustomImage(",
                "    image='ghcr.io/o/i:1',",
                "    docker_auth='REGISTRY_SECRET',",
                ")",
            ],
            "{path}:2: docker_auth is not a DockerAuthSettings(...) or DockerAuth(...) call"
            f" ('REGISTRY_SECRET'); configure reads only literal definitions:"
            f" {FLAGS} --registry HOST --auth-method METHOD {MORE}",
        ),
        (
            [
                "import truss_chains as chains",
                "IMAGE = chains.CustomImage(",
                "    image='ghcr.io/o/i:1',",
                "    docker_auth=chains.DockerAuthSettings(",
                "        auth_method='REGISTRY_SECRET', secret_name='gh', tag='x', build=1",
                "    ),",
                ")",
            ],
            "{path}:2: unknown field build, tag (truss push refuses it)",
        ),
        (
            [
                "import truss_chains as chains",
                "AUTH = chains.DockerAuthSettings(",
                "    auth_method='AWS_IAM', registry=5,",
                ")",
            ],
            "{path}:2: registry should be a string or null",
        ),
        (
            [
                "import truss_chains as chains",
                "IMAGE = chains.CustomImage(",
                "    image='ghcr.io/o/i:1',",
                "    docker_auth={'auth_method': 'REGISTRY_SECRET', **EXTRA},",
                ")",
            ],
            "{path}:2: docker_auth unpacks another mapping (**)",
        ),
        (
            [
                "import truss_chains as chains",
                "AUTH = chains.DockerAuthSettings('REGISTRY_SECRET', registry='ghcr.io')",
            ],
            "{path}:2: pass DockerAuthSettings keyword arguments only",
        ),
        (
            [
                "import truss_chains as chains",
                "AUTH = chains.DockerAuthSettings(**SETTINGS)",
            ],
            "{path}:2: pass DockerAuthSettings keyword arguments only",
        ),
        (
            # what is known before the value is turned into flags; the rest is a placeholder
            [
                "import os",
                "import truss_chains as chains",
                "",
                "AUTH = chains.DockerAuthSettings(",
                "    auth_method=chains.DockerAuthType.REGISTRY_SECRET,",
                "    registry='ghcr.io',",
                "    secret_name='gh_pat',",
                "    aws_oidc_region=os.environ['REGION'],",
                ")",
            ],
            f"{{path}}:4: aws_oidc_region os.environ['REGION'] {NOT_RUN}"
            f" {FLAGS} --registry ghcr.io --auth-method REGISTRY_SECRET --secret-name gh_pat"
            f" {MORE}",
        ),
        (
            [
                "import os",
                "AUTH = {",
                "    'auth_method': 'AWS_IAM',",
                "    'registry': os.environ['REG'],",
                "}",
                "IMAGE = CustomImage(image='ghcr.io/o/i:1', docker_auth=AUTH)",
            ],
            f"{{path}}:6: registry os.environ['REG'] {NOT_RUN}"
            f" {FLAGS} --registry HOST --auth-method AWS_IAM {MORE}",
        ),
        (
            # a key configure cannot name: no field in the message
            [
                "import os",
                "IMAGE = CustomImage(",
                "    image='ghcr.io/o/i:1',",
                "    docker_auth={'auth_method': 'AWS_IAM', os.environ['KEY']: 'x'},",
                ")",
            ],
            f"{{path}}:2: os.environ['KEY'] {NOT_RUN}"
            f" {FLAGS} --registry HOST --auth-method AWS_IAM {MORE}",
        ),
        (
            [
                "import os",
                "IMAGE = CustomImage(",
                "    image='ghcr.io/o/i:1',",
                "    docker_auth={'auth_method': 'AWS_IAM', 5: os.environ['X']},",
                ")",
            ],
            f"{{path}}:2: os.environ['X'] {NOT_RUN}"
            f" {FLAGS} --registry HOST --auth-method AWS_IAM {MORE}",
        ),
        (
            # an attribute that is not DockerAuthType.<method> is code, not a value
            [
                "import settings",
                "AUTH = DockerAuthSettings(auth_method='AWS_IAM', registry=settings.AWS_IAM)",
            ],
            f"{{path}}:2: registry settings.AWS_IAM {NOT_RUN}"
            f" {FLAGS} --registry HOST --auth-method AWS_IAM {MORE}",
        ),
        (
            [
                "AUTH = DockerAuthSettings(auth_method='AWS_IAM', registry=b'ghcr.io')",
            ],
            f"{{path}}:1: registry b'ghcr.io' {NOT_RUN}"
            f" {FLAGS} --registry HOST --auth-method AWS_IAM {MORE}",
        ),
    ],
)
def test_a_chains_problem_is_one_line_naming_the_file_and_line(cli, tmp_path, paths, lines, says):
    run, path = configure(cli, tmp_path, *lines)
    assert run.code == 1
    assert errors(run) == ["error: " + says.format(path=path)], run.err
    assert not os.path.exists(paths.helper_config)


def test_a_long_expression_is_shown_cut_to_sixty_characters(cli, tmp_path):
    # 60 characters are shown whole; a longer one is cut to 57 and "..."
    sixty = "os.environ['" + "R" * 46 + "']"
    longer = "os.environ['" + "R" * 47 + "']"
    assert (len(sixty), len(longer)) == (60, 61)
    run, path = configure(
        cli,
        tmp_path,
        "import os",
        f"A = DockerAuthSettings(auth_method='AWS_IAM', registry={sixty})",
        f"B = DockerAuthSettings(auth_method='AWS_IAM', registry={longer})",
    )
    flags = f"{FLAGS} --registry HOST --auth-method AWS_IAM {MORE}"
    assert errors(run) == [
        f"error: {path}:2: registry {sixty} {NOT_RUN} {flags}",
        f"error: {path}:3: registry {longer[:57]}... {NOT_RUN} {flags}",
    ]


def test_a_settings_problem_names_the_line_of_the_image(cli, tmp_path):
    # The auth is defined on line 1 but used by the image on line 4: the image's line,
    # where its image and the registry are put together.
    run, path = configure(
        cli,
        tmp_path,
        "AUTH = DockerAuthSettings(auth_method='AWS_IAM', registry='ghcr.io')",
        "",
        "",
        "IMAGE = CustomImage(image='ghcr.io./o/i:1', docker_auth=AUTH)",
    )
    assert errors(run) == [
        f"error: {path}:4: base_image.image 'ghcr.io./o/i:1': 'ghcr.io.' is not a host a docker"
        " client can ask for (bad host)"
    ]


def test_settings_used_by_an_image_are_read_once_with_the_image(cli, tmp_path, paths):
    # Read alone (without its image) this AWS_IAM auth would name no registry; read with
    # the image it is the image's registry, with nothing to warn about.
    run, path = configure(
        cli,
        tmp_path,
        "import truss_chains as chains",
        "AUTH = chains.DockerAuthSettings(auth_method=chains.DockerAuthType.AWS_IAM)",
        f"IMAGE = chains.CustomImage(image='{ECR}/base:1', docker_auth=AUTH)",
    )
    assert (run.code, errors(run)) == (0, [])
    assert config.load(paths) == {ECR: {"auth_method": "AWS_IAM", "source": path}}


def test_settings_on_their_own_record_their_registry_alone(cli, tmp_path, paths):
    run, path = configure(
        cli,
        tmp_path,
        "AUTH = DockerAuthSettings(auth_method='REGISTRY_SECRET', registry='ghcr.io',"
        " secret_name='gh')",
        "OTHER = DockerAuthSettings(auth_method='AWS_IAM', registry=None)",
        f"IMAGE = CustomImage(image='{ECR}/i:1', docker_auth=OTHER)",
    )
    assert (run.code, errors(run)) == (0, [])
    gh = {"auth_method": "REGISTRY_SECRET", "registry": "ghcr.io", "secret_name": "gh"}
    assert config.load(paths) == {
        "ghcr.io": {**gh, "source": path},
        ECR: {"auth_method": "AWS_IAM", "source": path},
    }


def test_an_image_without_docker_auth_names_no_registry(cli, tmp_path):
    run, path = configure(
        cli,
        tmp_path,
        "IMAGE = CustomImage(image='ghcr.io/o/i:1', docker_auth=None)",
        "PLAIN = CustomImage(image='python:3.11')",
    )
    assert (run.code, run.err.splitlines()[0]) == (
        0,
        f"note: {path} names no private registry (no docker_auth and no DOCKER_REGISTRY_*"
        " secrets); nothing to import",
    )
    assert errors(run) == []


def test_another_call_with_docker_auth_is_not_an_image(cli, tmp_path, paths):
    # only CustomImage and Image carry an image; the settings passed elsewhere still count
    run, path = configure(
        cli,
        tmp_path,
        "AUTH = DockerAuthSettings(auth_method='REGISTRY_SECRET', registry='ghcr.io',"
        " secret_name='gh')",
        "register(docker_auth=AUTH)",
    )
    assert (run.code, errors(run)) == (0, [])
    assert config.load(paths) == {
        "ghcr.io": {
            "auth_method": "REGISTRY_SECRET",
            "registry": "ghcr.io",
            "secret_name": "gh",
            "source": path,
        }
    }


# --- names bound at module level ------------------------------------------------------------


def test_names_are_followed_through_up_to_ten_assignments(cli, tmp_path, paths):
    chain = ["H0 = 'ghcr.io'"] + [f"H{i} = H{i - 1}" for i in range(1, 11)]
    annotated = "SECRET: str = 'gh'"
    run, path = configure(
        cli,
        tmp_path,
        *chain,
        annotated,
        # H9 is ten assignments from its literal (H9 = H8 ... H0 = 'ghcr.io'); H10 eleven
        "A = DockerAuthSettings(auth_method='REGISTRY_SECRET', registry=H9, secret_name=SECRET)",
        "B = DockerAuthSettings(auth_method='REGISTRY_SECRET', registry=H10, secret_name=SECRET)",
    )
    flags = f"{FLAGS} --registry HOST --auth-method REGISTRY_SECRET {MORE}"
    assert errors(run) == [f"error: {path}:14: registry H0 {NOT_RUN} {flags}"]
    assert config.load(paths)["ghcr.io"]["secret_name"] == "gh"


@pytest.mark.parametrize(
    ("binding", "shown"),
    [
        (["HOST = OTHER", "OTHER = HOST"], "HOST"),  # a cycle ends, ten hops on
        (["HOST = 'quay.io'", "HOST = 'ghcr.io'"], "HOST"),  # bound twice: which one?
        (["HOST, PORT = 'ghcr.io', 5000"], "HOST"),
        (["config.HOST = 'ghcr.io'", "HOST: str"], "HOST"),
    ],
)
def test_a_name_not_bound_once_to_a_literal_is_not_a_value(cli, tmp_path, binding, shown):
    run, path = configure(
        cli,
        tmp_path,
        *binding,
        "AUTH = DockerAuthSettings(auth_method='AWS_IAM', registry=HOST)",
    )
    line = len(binding) + 1
    assert errors(run) == [
        f"error: {path}:{line}: registry {shown} {NOT_RUN}"
        f" {FLAGS} --registry HOST --auth-method AWS_IAM {MORE}"
    ]


# --- truss_train: Image(base_image=..., docker_auth=DockerAuth(...)) -----------------------

HEAD = [
    "from truss.base.truss_config import DockerAuthType",
    "from truss_train.definitions import *",
]


def train(*auth: str, image: str = f"{ECR}/train:1") -> list[str]:
    """A truss_train file whose Image(...) call, the line its problems name, is line 4."""
    return [
        *HEAD,
        "",
        "IMAGE = Image(",
        f"    base_image='{image}', docker_auth=DockerAuth(",
        *auth,
        "))",
    ]


IAM_REFS = (
    "aws_iam_docker_auth=AWSIAMDockerAuth(access_key_secret_ref=SecretReference(name='kid'),"
    " secret_access_key_secret_ref=SecretReference(name='skey'))"
)


@pytest.mark.parametrize(
    ("auth", "says"),
    [
        (
            ["    'AWS_IAM', registry='x',"],
            "{path}:4: pass DockerAuth keyword arguments only",
        ),
        (
            ["    auth_method=DockerAuthType.AWS_IAM, registry='x', token=1, user=2,"],
            "{path}:4: DockerAuth has no argument token, user",
        ),
        (
            [f"    registry='{ECR}', {IAM_REFS},"],
            f"{{path}}:4: DockerAuth's auth_method must be DockerAuthType.<one of {METHODS}>"
            " (truss_train refuses a string)",
        ),
        (
            [f"    auth_method='AWS_IAM', registry='{ECR}', {IAM_REFS},"],
            f"{{path}}:4: DockerAuth's auth_method must be DockerAuthType.<one of {METHODS}>"
            " (truss_train refuses a string)",
        ),
        (
            # an enum of another name is not truss's
            [f"    auth_method=MyAuth.AWS_IAM, registry='{ECR}', {IAM_REFS},"],
            f"{{path}}:4: MyAuth.AWS_IAM {NOT_RUN} {FLAGS} --registry HOST --auth-method METHOD"
            f" {MORE}",
        ),
        (
            [f"    auth_method=DockerAuthType.AWS_IAM, {IAM_REFS},"],
            "{path}:4: DockerAuth needs registry, a string",
        ),
        (
            [f"    auth_method=DockerAuthType.AWS_IAM, registry='{ECR}',"],
            "{path}:4: aws_iam_docker_auth must be given when auth_method is AWS_IAM",
        ),
        (
            [
                f"    auth_method=DockerAuthType.AWS_IAM, registry='{ECR}',",
                "    aws_iam_docker_auth=None,",
            ],
            "{path}:4: aws_iam_docker_auth must be given when auth_method is AWS_IAM",
        ),
        (
            [
                f"    auth_method=DockerAuthType.AWS_IAM, registry='{ECR}', {IAM_REFS},",
                "    aws_oidc_docker_auth=AWSOIDCDockerAuth(role_arn='r', region='us-east-1'),",
                "    gcp_oidc_docker_auth=GCPOIDCDockerAuth(service_account='s',"
                " workload_identity_provider='w'),",
            ],
            "{path}:4: aws_oidc_docker_auth, gcp_oidc_docker_auth cannot be given when"
            " auth_method is AWS_IAM",
        ),
        (
            [
                f"    auth_method=DockerAuthType.AWS_OIDC, registry='{ECR}',",
                "    aws_oidc_docker_auth=AWSOIDCDockerAuth('r', 'us-east-1'),",
            ],
            f"{{path}}:4: AWSOIDCDockerAuth('r', 'us-east-1') {NOT_RUN}"
            f" {FLAGS} --registry {ECR} --auth-method AWS_OIDC {MORE}",
        ),
        (
            [
                f"    auth_method=DockerAuthType.AWS_OIDC, registry='{ECR}',",
                "    aws_oidc_docker_auth=AWSOIDCDockerAuth(**ROLE),",
            ],
            f"{{path}}:4: AWSOIDCDockerAuth(**ROLE) {NOT_RUN}"
            f" {FLAGS} --registry {ECR} --auth-method AWS_OIDC {MORE}",
        ),
        (
            [
                f"    auth_method=DockerAuthType.AWS_OIDC, registry='{ECR}',",
                "    aws_oidc_docker_auth=SHARED_ROLE,",
            ],
            f"{{path}}:4: SHARED_ROLE {NOT_RUN}"
            f" {FLAGS} --registry {ECR} --auth-method AWS_OIDC {MORE}",
        ),
        (
            [
                f"    auth_method=DockerAuthType.AWS_OIDC, registry='{ECR}',",
                "    aws_oidc_docker_auth=AWSOIDCDockerAuth(role_arn='r', region='x', a=1, b=2),",
            ],
            "{path}:4: AWSOIDCDockerAuth no argument a, b",
        ),
        (
            [
                f"    auth_method=DockerAuthType.AWS_IAM, registry='{ECR}',",
                "    aws_iam_docker_auth=AWSIAMDockerAuth(),",
            ],
            "{path}:4: AWSIAMDockerAuth needs access_key_secret_ref, secret_access_key_secret_ref",
        ),
        (
            [
                f"    auth_method=DockerAuthType.AWS_OIDC, registry='{ECR}',",
                "    aws_oidc_docker_auth=AWSOIDCDockerAuth(role_arn=5, region='us-east-1'),",
            ],
            "{path}:4: role_arn should be a non-empty string",
        ),
        (
            [
                f"    auth_method=DockerAuthType.AWS_OIDC, registry='{ECR}',",
                "    aws_oidc_docker_auth=AWSOIDCDockerAuth(role_arn='', region='us-east-1'),",
            ],
            "{path}:4: role_arn should be a non-empty string",
        ),
        (
            # what is known so far is on the command line shown
            [
                f"    auth_method=DockerAuthType.AWS_OIDC, registry='{ECR}',",
                f"    aws_oidc_docker_auth=AWSOIDCDockerAuth(role_arn='{ROLE}',"
                " region=os.environ['AWS_REGION']),",
            ],
            f"{{path}}:4: os.environ['AWS_REGION'] {NOT_RUN} {FLAGS} --registry {ECR}"
            f" --auth-method AWS_OIDC --aws-oidc-role-arn {ROLE} {MORE}",
        ),
        (
            [
                "    auth_method=DockerAuthType.REGISTRY_SECRET, registry='ghcr.io',",
                "    registry_secret_docker_auth=RegistrySecretDockerAuth(",
                "        secret_ref=SecretReference(name='gh', version=2)),",
            ],
            f"{{path}}:4: SecretReference(name='gh', version=2) {NOT_RUN}"
            f" {FLAGS} --registry ghcr.io --auth-method REGISTRY_SECRET {MORE}",
        ),
        (
            [
                "    auth_method=DockerAuthType.REGISTRY_SECRET, registry='ghcr.io',",
                "    registry_secret_docker_auth=RegistrySecretDockerAuth(",
                "        secret_ref=SecretReference('gh')),",
            ],
            f"{{path}}:4: SecretReference('gh') {NOT_RUN}"
            f" {FLAGS} --registry ghcr.io --auth-method REGISTRY_SECRET {MORE}",
        ),
    ],
)
def test_a_truss_train_problem_is_one_line_naming_the_file_and_line(
    cli, tmp_path, paths, auth, says
):
    run, path = configure(cli, tmp_path, *train(*auth))
    assert run.code == 1
    assert errors(run) == ["error: " + says.format(path=path)], run.err
    assert not os.path.exists(paths.helper_config)


def test_other_methods_given_as_none_are_no_conflict(cli, tmp_path, paths):
    run, path = configure(
        cli,
        tmp_path,
        *train(
            "    auth_method=DockerAuthType.AWS_OIDC, registry=REGISTRY,",
            f"    aws_oidc_docker_auth=AWSOIDCDockerAuth(role_arn='{ROLE}', region='eu-west-1'),",
            "    aws_iam_docker_auth=None, gcp_oidc_docker_auth=NOTHING,",
            image="pytorch/pytorch:2.1.0",
        ),
        f"REGISTRY = '{ECR}'",
        "NOTHING = None",
    )
    assert (run.code, errors(run)) == (0, []), run.err
    # the registry named is where the entry goes; the image's registry is kept with it
    assert config.load(paths) == {
        ECR: {
            "auth_method": "AWS_OIDC",
            "registry": ECR,
            "aws_oidc_role_arn": ROLE,
            "aws_oidc_region": "eu-west-1",
            "image_registry": "https://index.docker.io/v1/",
            "source": path,
        }
    }


def test_a_file_that_cannot_be_read_or_parsed_is_named_with_the_reason(cli, tmp_path):
    missing = str(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("IMAGE = CustomImage(image='ghcr.io/o/i:1'\n")
    run = cli("configure", missing, str(broken))
    assert run.code == 1
    assert run.err.splitlines()[:2] == [
        f"error: cannot read {missing}: No such file or directory",
        f"error: {broken} is not Python configure can read (SyntaxError)",
    ]
