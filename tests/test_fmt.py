"""``reconciler fmt`` (spec/fmt.py): canonical key order, quoting and indentation, comments kept, idempotent,
and the data itself never changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.spec import fmt
from tests.helpers import SPECS, out, run

MESSY = """\
# yaml-language-server: $schema=../../schemas/tenant.schema.json
kind: Tenant
apiVersion: reconciler/v1
spec:
    plan:
        azure: {subscriptionId: 22222222-2222-2222-2222-222222222222, tenantId: 11111111-1111-1111-1111-111111111111}
        name: 'AcmeCorp Plan'
        allowedVmSizes: [Standard_D2s_v3]
        allowedRegions: [westus]
    # the tenant's own site
    site: contoso-west
    cloud:
        logicalNetworks: ['Provider Address']
        name: AcmeCorp Cloud   # made by the Azure Pack administrator
        hostGroups: ["All Hosts/West"]
    recovery:
        resourceGroup: rg
        storageAccount: {name: drstorageacct1}
        virtualNetwork: {name: vnet, addressSpace: [10.0.0.0/16], subnets: [{name: s, prefix: 10.0.1.0/24}]}
        policy: {name: p, startTime: '22:00'}
        defaultTargetVmSize: Standard_D2s_v3
    vms:
        - lifecycle: {ignoreFields: [memory.priority]}
          name: VM01
          osType: 'yes'
metadata:
    labels: {tier: gold, b: x, a: y}
    name: acmecorp
# the end
"""


def test_a_messy_file_is_put_in_canonical_form_with_its_comments_and_data() -> None:
    text = fmt.format_text(MESSY)
    assert fmt.format_text(text) == text  # idempotent
    assert yaml.safe_load(text) == yaml.safe_load(MESSY)  # the same data
    lines = text.splitlines()
    assert lines[:3] == [
        "# yaml-language-server: $schema=../../schemas/tenant.schema.json",
        "apiVersion: reconciler/v1",
        "kind: Tenant",
    ]
    assert lines[3:6] == ["metadata:", "  name: acmecorp", "  labels: {tier: gold, b: x, a: y}"]  # author's labels
    assert lines[6:9] == ["spec:", "  # the tenant's own site", "  site: contoso-west"]  # the comment moved along
    assert "    name: AcmeCorp Plan" in lines and "    allowedRegions: [westus]" in lines
    assert lines.index("    allowedRegions: [westus]") < lines.index("    allowedVmSizes: [Standard_D2s_v3]")
    cloud = next(line for line in lines if line.startswith("    name: AcmeCorp Cloud"))
    assert cloud.endswith("# made by the Azure Pack administrator")  # end-of-line comments stay on their line
    assert "    hostGroups: [All Hosts/West]" in lines and "    logicalNetworks: [Provider Address]" in lines
    assert '    policy: {name: p, startTime: "22:00"}' in lines  # YAML 1.1 would read 22:00 as 1320
    assert '      osType: "yes"' in lines  # a boolean unquoted
    assert lines[-1] == "# the end"  # the closing comment stays at the end
    vm = lines.index("    - name: VM01")
    assert lines[vm + 1 : vm + 3] == ['      osType: "yes"', "      lifecycle: {ignoreFields: [memory.priority]}"]


def test_other_yaml_is_left_alone() -> None:
    workflow = "on:\n    push: {}\njobs: {a: 'b'}\n"
    assert fmt.format_text(workflow) == workflow


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(fmt.FormatError, match=r"^t\.yaml:3:1: not YAML"):
        fmt.format_text("apiVersion: reconciler/v1\nkind: [Site\n", name="t.yaml")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30), st.booleans())
def test_any_string_reads_back_as_written(value: str, flow: bool) -> None:
    document = {"apiVersion": "reconciler/v1", "kind": "Site", "metadata": {"name": "x"}, "spec": {"k": value}}
    text = fmt.format_text(yaml.safe_dump(document, default_flow_style=flow or None))
    assert yaml.safe_load(text)["spec"]["k"] == value


def test_the_shipped_specs_are_canonical() -> None:
    result = run("fmt", "--check", SPECS)
    assert result.exit_code == 0, out(result)


def test_fmt_check_reports_and_fmt_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "tenant.yaml"
    path.write_text(MESSY, encoding="utf-8")
    checked = run("fmt", "--check", "--diff", tmp_path)
    assert checked.exit_code == 1
    assert f"would reformat {path}" in out(checked) and "+apiVersion: reconciler/v1" in out(checked)
    assert path.read_text(encoding="utf-8") == MESSY  # --check writes nothing
    assert run("fmt", tmp_path).exit_code == 0
    assert run("fmt", "--check", tmp_path).exit_code == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: reconciler/v1\nkind: [Site\n", encoding="utf-8")
    failed = run("fmt", tmp_path)
    assert failed.exit_code == 1 and "broken.yaml:" in out(failed)
