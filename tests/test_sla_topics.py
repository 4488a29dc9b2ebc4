"""The SLA matrix: the brief's account-support table (topic x tier) over the channel x
priority policies, its cells and names, and the SLA file's `topics:` with errors that name
the key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatserver.models import Priority, Team, Tier
from chatserver.reports import build_cell_report
from chatserver.settings import read_sla_file
from chatserver.sla import Channel, SlaConfigError, default_policies
from chatserver.sla_topics import cell_policy, default_matrix, matrix_from_mapping
from tests.conftest import ROOT

H = timedelta(hours=1)
S30 = timedelta(seconds=30)


def cell(channel: Channel, priority: Priority, tier: Tier, faq_id: str | None, team=Team.ACCOUNT):
    return default_matrix().cell(channel, priority, tier=tier, team=team, faq_id=faq_id)


def test_account_opening_follows_the_brief_by_tier_and_completes_within_48_hours() -> None:
    standard = cell(Channel.EMAIL, Priority.LOW, Tier.STANDARD, "account-opening")
    assert standard.name == "email/account-opening/standard/low"
    # Email promises an hour; the topic 24 h: the lesser holds.
    assert standard.first_response == H
    assert standard.resolution == 48 * H
    vip = cell(Channel.CALLBACK, Priority.LOW, Tier.VIP, "additional-account")
    assert (vip.first_response, vip.resolution) == (timedelta(minutes=15), 48 * H)


def test_a_vip_funds_check_is_answered_immediately_and_done_the_same_day() -> None:
    policy = cell(Channel.EMAIL, Priority.HIGH, Tier.VIP, "deposit-not-credited")
    assert policy.name == "email/funds-check/vip/high"
    assert policy.first_response == S30  # "immediately": the chat target
    assert policy.warn_before == timedelta(seconds=10)  # the warning follows the target
    assert policy.resolution == 24 * H
    standard = cell(Channel.EMAIL, Priority.MEDIUM, Tier.STANDARD, "withdrawal-processing-time")
    assert standard.first_response == H


def test_document_checks_take_12_hours_for_standard_and_2_for_priority_members() -> None:
    standard = cell(Channel.EMAIL, Priority.LOW, Tier.STANDARD, "required-documents")
    vip = cell(Channel.EMAIL, Priority.LOW, Tier.VIP, "document-verification-status")
    assert standard.first_response == H  # email's hour is sooner than 12 h
    assert vip.first_response == H  # and than 2 h
    assert (standard.resolution, vip.resolution) == (24 * H, 24 * H)


def test_an_urgent_chat_keeps_its_hour_whatever_the_topic() -> None:
    opening = cell(Channel.CHAT, Priority.URGENT, Tier.STANDARD, "account-opening")
    security = cell(Channel.CHAT, Priority.URGENT, Tier.STANDARD, "account-hacked")
    assert (opening.first_response, opening.resolution) == (S30, H)
    assert (security.first_response, security.resolution) == (S30, H)


def test_a_chat_is_answered_within_30_seconds_in_every_cell() -> None:
    matrix = default_matrix()
    for faq_id in (None, *matrix.entries):
        for tier in Tier:
            for priority in Priority:
                policy = matrix.cell(
                    Channel.CHAT, priority, tier=tier, team=Team.ACCOUNT, faq_id=faq_id
                )
                assert policy.first_response == S30, policy.name


def test_without_a_topic_the_team_names_the_cell_and_the_targets_stay() -> None:
    policy = cell(Channel.CHAT, Priority.MEDIUM, Tier.STANDARD, "spreads", team=Team.TRADING)
    base = default_policies()[Channel.CHAT, Priority.MEDIUM]
    assert policy.name == "chat/trading/standard/medium"
    assert (policy.first_response, policy.resolution) == (base.first_response, base.resolution)


def test_plain_channel_priority_policies_are_a_matrix_without_topics() -> None:
    policy = cell_policy(
        default_policies(),
        Channel.CHAT,
        Priority.MEDIUM,
        tier=Tier.VIP,
        team=Team.ACCOUNT,
        faq_id="account-opening",
    )
    assert policy.name == "chat/account/vip/medium"
    assert policy.resolution == 24 * H


def test_the_sla_file_adds_a_team_topic_and_changes_a_row() -> None:
    matrix = matrix_from_mapping(
        {
            "email": {"high": {"first_response": "10m"}},
            "topics": {
                "trading": {"standard": "30m", "vip": "5m", "completion": "4h"},
                "account-opening": {"completion": "72h"},
                "margin-help": {"standard": "1h", "vip": "15m", "faq": ["margin-calculation"]},
            },
        }
    )
    trading = matrix.cell(Channel.EMAIL, Priority.MEDIUM, tier=Tier.VIP, team=Team.TRADING)
    assert trading.name == "email/trading/vip/medium"
    assert (trading.first_response, trading.resolution) == (timedelta(minutes=5), 4 * H)
    # margin-help's entry is more specific than its team's targets
    margin = matrix.cell(
        Channel.EMAIL,
        Priority.HIGH,
        tier=Tier.STANDARD,
        team=Team.TRADING,
        faq_id="margin-calculation",
    )
    assert margin.name == "email/margin-help/standard/high"
    assert margin.first_response == timedelta(minutes=10)  # the email/high override
    opening = matrix.cell(
        Channel.EMAIL, Priority.LOW, tier=Tier.VIP, team=Team.ACCOUNT, faq_id="account-opening"
    )
    assert (opening.first_response, opening.resolution) == (H, 72 * H)  # vip stays 4 h > 1 h


@pytest.mark.parametrize(
    ("topics", "key"),
    [
        ({"security": {"vip": "soon"}}, "sla.topics.security.vip"),
        ({"security": {"fast": "1h"}}, "sla.topics.security.fast"),
        ({"new-topic": {"standard": "1h"}}, "sla.topics.new-topic.vip"),
        ({"security": {"faq": "account-hacked"}}, "sla.topics.security.faq"),
        ({"security": {"standard": 0}}, "sla.topics.security.standard"),
        ({"security": ["1h"]}, "sla.topics.security"),
        (["security"], "sla.topics"),
    ],
)
def test_a_mistake_in_the_topics_names_its_key(topics: object, key: str) -> None:
    with pytest.raises(SlaConfigError) as raised:
        matrix_from_mapping({"topics": topics})
    assert raised.value.key == key


def test_the_example_sla_file_reads(tmp_path) -> None:
    matrix = read_sla_file(ROOT / "docs" / "sla.example.yaml")
    assert "trading" in matrix.topics
    broken = tmp_path / "sla.yaml"
    broken.write_text("topics:\n  security:\n    vip: soon\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"sla\.yaml: sla\.topics\.security\.vip"):
        read_sla_file(broken)


def test_attainment_per_cell_counts_each_cell_with_its_target() -> None:
    def row(policy: str | None, status: str, seconds: float | None, target: float | None = 30.0):
        return {
            "policy": policy,
            "frt_target_seconds": target,
            "frt_status": status,
            "frt_seconds": seconds,
            "status": "closed",
        }

    report = build_cell_report(
        [
            row("chat/funds-check/vip/high", "hit", 12.0),
            row("chat/funds-check/vip/high", "missed", 41.0),
            row("chat/account/standard/medium", "hit", 8.0),
            row(None, "hit", 5.0, None),  # before cells were recorded
        ]
    )
    assert [(r["cell"], r["handoffs"], r["share_within_target"]) for r in report] == [
        ("-/-/-/-", 1, 1.0),
        ("chat/account/standard/medium", 1, 1.0),
        ("chat/funds-check/vip/high", 2, 0.5),
    ]
    funds = report[2]
    assert (funds["topic"], funds["tier"], funds["priority"]) == ("funds-check", "vip", "high")
    assert funds["frt_target_seconds"] == 30.0
