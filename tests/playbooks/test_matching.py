from bot.playbooks import IncidentFacts, Playbook, match_playbook, rank_playbooks


def pb(id: str, **fields: object) -> Playbook:
    return Playbook.model_validate({"id": id, "title": id, "phases": [{"kind": "other", "steps": [{"text": "x"}]}], **fields})


DEFAULT = pb("zz-default", default=True)
NO_RULES = pb("aa-no-rules")
MANUAL = pb("manual-deploy", manual=True)
BY_ALERT = pb("by-alert", match={"alertname": ["HighErrorRate", "Errors5xx"]})
BY_ALERT_AND_LABEL = pb("by-alert-label", match={"alertname": "HighErrorRate", "labels": {"service": "checkout"}})
BY_REGEX = pb("by-regex", match={"alertname": "HighErrorRate", "labels": {"env": "=~prod|prod-.*"}})
BY_KEYWORD = pb("by-keyword", match={"title_keywords": ["error rate", "5xx"]})
BY_SERVICE = pb("by-service", match={"pagerduty_service": ["PSVC1", "Checkout API"]})


def test_alertname_and_exact_label_beats_alertname_alone() -> None:
    facts = IncidentFacts(alertname="HighErrorRate", labels={"service": "checkout", "env": "staging"})
    ranked = rank_playbooks([BY_ALERT, BY_ALERT_AND_LABEL, BY_REGEX, DEFAULT], facts)
    assert [(r.playbook.id, r.score) for r in ranked] == [("by-alert-label", 120), ("by-alert", 100)]
    assert match_playbook([BY_ALERT, BY_ALERT_AND_LABEL, DEFAULT], facts) is BY_ALERT_AND_LABEL


def test_regex_label_matches_whole_value_and_scores_below_exact() -> None:
    facts = IncidentFacts(alertname="HighErrorRate", labels={"service": "checkout", "env": "prod-eu"})
    ranked = rank_playbooks([BY_REGEX, BY_ALERT_AND_LABEL], facts)
    assert [(r.playbook.id, r.score) for r in ranked] == [("by-alert-label", 120), ("by-regex", 110)]
    assert rank_playbooks([BY_REGEX], IncidentFacts(alertname="HighErrorRate", labels={"env": "preprod"})) == []


def test_alertname_outweighs_keywords() -> None:
    facts = IncidentFacts(alertname="Errors5xx", title="High error rate and 5xx on checkout")
    ranked = rank_playbooks([BY_KEYWORD, BY_ALERT], facts)
    assert [(r.playbook.id, r.score) for r in ranked] == [("by-alert", 100), ("by-keyword", 10)]


def test_keywords_are_whole_words_case_insensitive() -> None:
    disk = pb("disk", match={"title_keywords": ["disk"]})
    assert match_playbook([disk], IncidentFacts(title="DISK almost full")) is disk
    assert match_playbook([disk], IncidentFacts(title="diskette reader broken")) is None
    quoted = pb("quoted", match={"title_keywords": ["error rate > 5%"]})
    assert match_playbook([quoted], IncidentFacts(title="API error rate > 5% on prod")) is quoted


def test_pagerduty_service_by_id_or_name() -> None:
    assert match_playbook([BY_SERVICE], IncidentFacts(service_id="PSVC1")) is BY_SERVICE
    assert match_playbook([BY_SERVICE], IncidentFacts(service_name="checkout api")) is BY_SERVICE
    assert match_playbook([BY_SERVICE], IncidentFacts(service_id="POTHER")) is None


def test_all_rule_kinds_must_hold() -> None:
    both = pb("both", match={"alertname": "HighErrorRate", "pagerduty_service": "PSVC1"})
    assert match_playbook([both], IncidentFacts(alertname="HighErrorRate")) is None
    assert match_playbook([both], IncidentFacts(alertname="HighErrorRate", service_id="PSVC1")) is both


def test_ties_broken_by_constraints_then_id() -> None:
    # same score (100): alertname only vs service only -> same constraint count -> id order
    a = pb("b-alert", match={"alertname": "X"})
    s = pb("a-service", match={"pagerduty_service": "S"})
    facts = IncidentFacts(alertname="X", service_id="S")
    assert [r.playbook.id for r in rank_playbooks([a, s], facts)] == ["a-service", "b-alert"]
    assert match_playbook([a, s], facts) is s
    # equal score 20 from one exact label vs 20 from two regex labels -> more constraints wins
    one = pb("a-one-label", match={"labels": {"team": "db"}})
    two = pb("z-two-regex", match={"labels": {"team": "=~d.*", "env": "=~.*"}})
    facts = IncidentFacts(labels={"team": "db", "env": "prod"})
    assert [r.playbook.id for r in rank_playbooks([one, two], facts)] == ["z-two-regex", "a-one-label"]


def test_fallback_prefers_default_and_ignores_manual() -> None:
    facts = IncidentFacts(alertname="Unknown")
    assert match_playbook([MANUAL, NO_RULES, DEFAULT, BY_ALERT], facts) is DEFAULT
    assert match_playbook([MANUAL, NO_RULES, BY_ALERT], facts) is NO_RULES
    assert match_playbook([MANUAL, BY_ALERT], facts) is None
    assert MANUAL.is_fallback is False
