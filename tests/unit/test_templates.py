"""The templates SAM deploys are generated from their sources (templates/), and the committed ones are what they make."""

from __future__ import annotations

from pathlib import Path

import pytest

from localhub.template import ROOT, Template, load_yaml
from tools.templates import REGENERATE, SourceError, generate, stale


def test_the_committed_templates_are_the_generated_ones() -> None:
    # Given the sources under templates/, When the templates are generated from them
    # Then template.yaml and every packs/*.yaml committed are the same, byte for byte
    assert [str(path.relative_to(ROOT)) for path in stale()] == [], f"stale: regenerate them with `{REGENERATE}` and commit them."


ROOT_SOURCE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Metadata: {cfn-lint: {config: {ignore_checks: [WS1004]}}}
Parameters:
  Stage: {Type: String, Default: dev}
  WaitSeconds: {Type: Number, Default: 60}
  AlarmTopicArn: {Type: String, Default: ""}
Conditions:
  HasAlarmTopic: !Not [!Equals [!Ref AlarmTopicArn, ""]]
  Unused: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Timeout: 10
    Environment: {Variables: {STAGE: !Ref Stage, SYSTEMS: !GetAtt Systems.Value}}
PackParameters:
  Systems: !GetAtt Systems.Value
  Policy: !Ref ${Pack}Policy
ResourceDefaults:
  AWS::SQS::Queue: {KmsMasterKeyId: !Ref Key, DelaySeconds: 0}
FunctionBundles:
  table:
    Variables: {TABLE: !Ref Table, MODE: shared}
    Policies: [!Ref Policy]
MappingLoops:
  Routes:
    - Route
    - ${Route}Route:
        Type: AWS::ApiGatewayV2::Route
        Properties: {RouteKey: !FindInMap [Routes, !Ref Route, Key], Target: !Sub "integrations/${${Route}Integration}"}
      ${Route}Integration: {Type: AWS::ApiGatewayV2::Integration, Properties: {IntegrationUri: !GetAtt WorkFunction.Arn}}
Resources:
  Systems: {Type: AWS::SSM::Parameter, Properties: {Type: String, Value: "{}"}}
  Table: {Type: AWS::DynamoDB::Table}
  Key: {Type: AWS::KMS::Key}
  WorkPolicy: {Type: AWS::IAM::ManagedPolicy}
  WorkPack: {Type: AWS::Serverless::Application, Properties: {Location: packs/work.yaml}}
"""

PACK_SOURCE = """\
Description: a pack
Mappings:
  Routes:
    Get: {Key: GET /work}
Resources:
  WorkFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../functions/work/
      Environment: {Variables: {TABLE: !Ref Table, WAIT: !Ref WaitSeconds, WHERE: !Sub "${Table}/${Own}"}}
      Policies: [!Ref Policy]
  Own: {Type: AWS::SQS::Queue}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]}
"""


def _sources(tmp_path: Path, pack: str = PACK_SOURCE) -> Path:
    (tmp_path / "templates" / "packs").mkdir(parents=True)
    (tmp_path / "templates" / "root.yaml").write_text(ROOT_SOURCE, encoding="utf-8")
    (tmp_path / "templates" / "packs" / "work.yaml").write_text(pack, encoding="utf-8")
    return tmp_path / "templates"


def test_a_packs_interface_is_derived_from_what_it_uses(tmp_path: Path) -> None:
    # Given a pack source that declares no parameters and uses names of the root (its queue the root's Key by default)
    texts = generate(_sources(tmp_path), tmp_path)
    root = load_yaml(texts[tmp_path / "template.yaml"])
    pack = load_yaml(texts[tmp_path / "packs" / "work.yaml"])
    # Then its parameters are the root names it uses, typed as the root declares them (a resource a String)
    assert pack["Parameters"] == {
        "Stage": {"Type": "String"},
        "WaitSeconds": {"Type": "Number"},
        "AlarmTopicArn": {"Type": "String"},
        "Systems": {"Type": "String"},
        "Policy": {"Type": "String"},
        "Table": {"Type": "String"},
        "Key": {"Type": "String"},
    }
    # And the root passes each its own name, or what PackParameters gives it (${Pack}: the application without "Pack")
    assert root["Resources"]["WorkPack"]["Properties"]["Parameters"] == {
        "Stage": {"Ref": "Stage"},
        "WaitSeconds": {"Ref": "WaitSeconds"},
        "AlarmTopicArn": {"Ref": "AlarmTopicArn"},
        "Systems": {"Fn::GetAtt": ["Systems", "Value"]},
        "Policy": {"Ref": "WorkPolicy"},
        "Table": {"Ref": "Table"},
        "Key": {"Ref": "Key"},
    }
    # And it has the root's header, Metadata and function Globals (the root's expression replaced by the parameter)
    assert pack["Transform"] == root["Transform"]
    assert pack["Metadata"] == root["Metadata"]
    assert pack["Globals"]["Function"]["Environment"]["Variables"] == {"STAGE": {"Ref": "Stage"}, "SYSTEMS": {"Ref": "Systems"}}
    # And the root's condition it uses, not the others
    assert pack["Conditions"] == {"HasAlarmTopic": root["Conditions"]["HasAlarmTopic"]}
    # And neither template carries what only the sources say
    assert "PackParameters" not in root
    assert "MappingLoops" not in root
    # And the local reader takes the two as one template, the pack's parameters bound to what the root passes
    (tmp_path / "packs").mkdir()
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    variables = Template.load(tmp_path / "template.yaml").resources["WorkFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["TABLE"] == {"Ref": "Table"}
    assert variables["WAIT"] == {"Ref": "WaitSeconds"}


def test_a_template_with_a_mapping_named_after_a_loop_gets_the_loop_over_its_rows(tmp_path: Path) -> None:
    texts = generate(_sources(tmp_path), tmp_path)
    pack = load_yaml(texts[tmp_path / "packs" / "work.yaml"])
    identifier, rows, outputs = pack["Resources"]["Fn::ForEach::Routes"]
    assert (identifier, rows, list(outputs)) == ("Route", ["Get"], ["${Route}Route", "${Route}Integration"])
    # and the root, which has no Routes mapping, gets none
    assert "Fn::ForEach::Routes" not in load_yaml(texts[tmp_path / "template.yaml"])["Resources"]


def test_a_name_neither_the_pack_nor_the_root_declares_is_refused(tmp_path: Path) -> None:
    sources = _sources(tmp_path, PACK_SOURCE.replace("!Ref Table,", "!Ref Missing,"))
    with pytest.raises(SourceError, match="Missing"):
        generate(sources, tmp_path)


BUNDLED_PACK = """\
Resources:
  WorkFunction:
    Type: AWS::Serverless::Function
    Metadata: {utilhub: {integrationPoints: [W-01], uses: [table]}}
    Properties:
      CodeUri: ../functions/work/
      Environment: {Variables: {MODE: own}}
      Policies: [!Ref Other]
  Other: {Type: AWS::IAM::ManagedPolicy}
"""


def test_a_functions_bundles_add_their_variables_and_policies_to_its_own(tmp_path: Path) -> None:
    # Given a function naming a bundle in its Metadata, and setting one of the bundle's variables itself
    texts = generate(_sources(tmp_path, BUNDLED_PACK), tmp_path)
    function = load_yaml(texts[tmp_path / "packs" / "work.yaml"])["Resources"]["WorkFunction"]
    # Then it has the bundle's variables (its own value kept) and policies after its own, and no longer the name
    assert function["Properties"]["Environment"]["Variables"] == {"TABLE": {"Ref": "Table"}, "MODE": "own"}
    assert function["Properties"]["Policies"] == [{"Ref": "Other"}, {"Ref": "Policy"}]
    assert function["Metadata"] == {"utilhub": {"integrationPoints": ["W-01"]}}
    # And a bundle no source defines is refused
    with pytest.raises(SourceError, match="uses nothing"):
        generate(_sources(tmp_path / "other", BUNDLED_PACK.replace("uses: [table]", "uses: [nothing]")), tmp_path)


def test_a_resource_of_a_type_with_defaults_has_those_it_does_not_set_itself(tmp_path: Path) -> None:
    pack = PACK_SOURCE.replace("Own: {Type: AWS::SQS::Queue}", "Own: {Type: AWS::SQS::Queue, Properties: {DelaySeconds: 5}}")
    texts = generate(_sources(tmp_path, pack), tmp_path)
    body = load_yaml(texts[tmp_path / "packs" / "work.yaml"])
    # Then the queue has the default it does not set, its own value of the other, and the pack the key as a parameter
    assert body["Resources"]["Own"]["Properties"] == {"KmsMasterKeyId": {"Ref": "Key"}, "DelaySeconds": 5}
    assert body["Parameters"]["Key"] == {"Type": "String"}
