"""Lesson 09's exercise checks accept right answers and name what is wrong in wrong ones."""

from difflib import SequenceMatcher

import pytest

from ftlab.course.checks import lesson09 as checks
from ftlab.course.checks.core import ExerciseCheckError
from ftlab.labs import assistant
from ftlab.labs.instructions import REFUSAL, score_answer

# The course's format with the {% generation %} block in a given place; `{answer}` is the assistant's content.
BLOCKS = {
    "right": "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}"
             "{{ '\n' }}",
    "role token inside": "{% generation %}{{ '<|assistant|>\n' + message['content'] + '<|end|>' }}{% endgeneration %}"
                         "{{ '\n' }}",
    "end outside": "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] }}{% endgeneration %}"
                   "{{ '<|end|>\n' }}",
    "newline inside": "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] + '<|end|>\n' }}"
                      "{% endgeneration %}",
}


def template(block: str = BLOCKS["right"], others: str = "{{ '<|' + message['role'] + '|>\n' + message['content'] "
                                                          "+ '<|end|>\n' }}",
             prompt: str = "{%- if add_generation_prompt -%}{{ '<|assistant|>\n' }}{%- endif -%}") -> str:
    return ("{%- for message in messages -%}{%- if message['role'] == 'assistant' -%}" + block
            + "{%- else -%}" + others + "{%- endif -%}{%- endfor -%}" + prompt)


def test_the_course_template_and_a_rewritten_one_pass(capsys):
    checks.check_chat_template(assistant.CHAT_TEMPLATE)
    checks.check_chat_template(template())
    assert capsys.readouterr().out.count("✔") == 2


@pytest.mark.parametrize("wrong, message", [
    (template(BLOCKS["role token inside"]), r"token \d+ \('<\|assistant\|>'\) is trained on, but the model never"),
    (template(BLOCKS["end outside"]), r"\('<\|end\|>'\), the <\|end\|> after the assistant's answer, is not trained "
                                      r"on: the model never learns to end its turn"),
    (template(BLOCKS["newline inside"]), r"the newline after <\|end\|>, is trained on"),
    (template(others="{% generation %}{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
                     "{% endgeneration %}"), r"belongs to the user's message and is trained on"),
    (assistant.CHAT_TEMPLATE.replace("{% generation %}", "").replace("{% endgeneration %}", ""),
     r"no \{% generation %\}"),
    (template("{{ '<|assistant|>\n' + message['content'] }}{% generation %}{{ '<|end|>' }}{% endgeneration %}"
              "{{ '\n' }}"), r"is part of the assistant's answer but is not trained on"),
    (template(prompt=""), r"it should end with '<\|assistant\|>\\n'"),
    (template(prompt="{%- if messages[-1]['role'] == 'user' -%}{{ '<|assistant|>\n' }}{%- endif -%}"),
     r"without add_generation_prompt"),
    (template(BLOCKS["right"].replace("'<|assistant|>\n'", "'<|assistant|>'")), r"renders a request and its answer "
                                                                                r"as .*they part at character 62"),
    (template() + "{% if %}", r"fails on a request and its answer: TemplateSyntaxError"),
    (None, "a Jinja program in a string"),
])
def test_wrong_templates_are_explained(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_chat_template(wrong)


def test_a_mask_problem_names_the_chat_it_is_in():
    system_inside = template(others="{%- if message['role'] == 'system' -%}{% generation %}{{ '<|system|>\n' + "
                                    "message['content'] + '<|end|>\n' }}{% endgeneration %}{%- else -%}"
                                    "{{ '<|user|>\n' + message['content'] + '<|end|>\n' }}{%- endif -%}")
    with pytest.raises(ExerciseCheckError, match=r"In a chat with a system message, token 0 \('<\|system\|>'\) "
                                                 r"belongs to the system's message"):
        checks.check_chat_template(system_inside)


def best_vs_worst(prompt, answers, scores):
    ranked = sorted(zip(scores, answers), key=lambda pair: pair[0])
    (worst, rejected), (best, chosen) = ranked[0], ranked[-1]
    if best == worst:
        return []
    return [{"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
             "rejected": [{"role": "assistant", "content": rejected}]}]


def every_ordered_pair(prompt, answers, scores):
    return [{"prompt": prompt, "chosen": [{"role": "assistant", "content": a}],
             "rejected": [{"role": "assistant", "content": b}]}
            for a, s in zip(answers, scores) for b, t in zip(answers, scores) if s > t]


def groups():
    reference = "les gâteaux"
    prompt = [{"role": "user", "content": 'Write "le gâteau" in the plural.'}]
    return [dict(prompt=prompt, answers=answers, scores=[score_answer("plural", a, reference) for a in answers])
            for answers in (["les gâteaux", "le", "des gâteaux", "les gâteau"], ["des", "des"],
                            ["les", "le gâteau", "gâteaux"])]


@pytest.mark.parametrize("rule", [best_vs_worst, every_ordered_pair])
def test_right_pair_rules_pass(rule, capsys):
    checks.check_preference_pairs(rule, groups())
    assert "✔" in capsys.readouterr().out


def swapped(prompt, answers, scores):
    pairs = best_vs_worst(prompt, answers, scores)
    return [dict(pair, chosen=pair["rejected"], rejected=pair["chosen"]) for pair in pairs]


def ties_kept(prompt, answers, scores):
    return every_ordered_pair(prompt, answers, scores) or [
        {"prompt": prompt, "chosen": [{"role": "assistant", "content": answers[0]}],
         "rejected": [{"role": "assistant", "content": answers[-1]}]}]


def plain_strings(prompt, answers, scores):
    return [dict(pair, chosen=pair["chosen"][0]["content"]) for pair in best_vs_worst(prompt, answers, scores)]


def answer_in_prompt(prompt, answers, scores):
    return [dict(pair, prompt=prompt + pair["chosen"]) for pair in best_vs_worst(prompt, answers, scores)]


def first_beats_last(prompt, answers, scores):
    if scores[0] == scores[-1]:
        return []
    return [{"prompt": prompt, "chosen": [{"role": "assistant", "content": answers[0]}],
             "rejected": [{"role": "assistant", "content": answers[-1]}]}]


def stub(prompt, answers, scores):
    raise NotImplementedError


@pytest.mark.parametrize("wrong, message", [
    (swapped, "less than the rejected"),
    (ties_kept, "a tie"),
    (plain_strings, "'chosen' is the text 'les gâteaux'; TRL's conversational format wants a list of messages"),
    (answer_in_prompt, "'prompt' should be the chat's messages as given"),
    (first_beats_last, "less than the rejected"),
    (lambda prompt, answers, scores: (best_vs_worst(prompt, answers, scores) or [None])[0], "return a list of pairs"),
    (lambda prompt, answers, scores: None, "returned None"),
    (lambda prompt, answers, scores: [], "to_pairs made none"),
    (lambda prompt, answers, scores: [(answers[0], answers[1])], "each pair should be a dict"),
    (stub, "not written yet"),
])
def test_wrong_pair_rules_are_explained(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_preference_pairs(wrong, groups())


def test_the_rule_with_wider_gaps_is_the_clearer_one(capsys):
    checks.check_clearer_rule("best vs worst", groups())
    assert "✔" in capsys.readouterr().out
    with pytest.raises(ExerciseCheckError, match="the rule with the wider gaps"):
        checks.check_clearer_rule("best vs second best", groups())
    with pytest.raises(ExerciseCheckError, match="one of"):
        checks.check_clearer_rule("all pairs", groups())
    pairs = checks.rule_pairs(groups(), "best vs second best")
    assert len(pairs) == 2 and all(p["chosen"] > p["rejected"] for p in pairs)


def plural_reward(completions, task, reference, **kwargs):
    rewards = []
    for completion, ref in zip(completions, reference):
        words = completion[0]["content"].split()
        article, noun = ref.split(maxsplit=1)
        article_right = 0.3 if words[:1] == [article] else 0.0
        rewards.append(article_right + 0.7 * SequenceMatcher(None, " ".join(words[1:]), noun).ratio())
    return rewards


@pytest.mark.parametrize("reward", [plural_reward, assistant.reward])
def test_right_rewards_pass(reward, capsys):
    checks.check_reward(reward)
    assert "✔" in capsys.readouterr().out


def text(completion):
    return completion[0]["content"]


@pytest.mark.parametrize("wrong, message", [
    (lambda completions, **kw: [float(text(c).startswith(("les", "des"))) for c in completions],
     "the right answer should earn more than any wrong one"),
    (assistant.exact_reward, r"all earn 0.000. When every answer sampled for a prompt earns the same"),
    (lambda completions, task, reference, **kw: [1.0 if r in text(c) else score_answer(t, text(c), r)
                                                 for c, t, r in zip(completions, task, reference)],
     r"the answer repeated \('les gâteaux les gâteaux"),
    (lambda completions, task, reference, **kw: [min(1.0, score_answer(t, text(c), r) + len(text(c)) / 60)
                                                 for c, t, r in zip(completions, task, reference)],
     "earns .* at least as much as"),
    (lambda completions, task, reference: assistant.reward(completions, task, reference), "end with \\*\\*kwargs"),
    (lambda completions, task, reference, **kw: [score_answer(t, c, r) for c, t, r in
                                                 zip(completions, task, reference)], "completion\\[0\\]\\['content'\\]"),
    (lambda completions, task, reference, **kw: [2 * score_answer(t, text(c), r) for c, t, r in
                                                 zip(completions, task, reference)], "between 0 and 1"),
    (lambda completions, **kw: [1.0], "returned 1 values for 5 completions"),
    (lambda completions, **kw: None, "return a list of numbers"),
    (lambda completions, **kw: ["good"] * len(completions), "not a number"),
])
def test_wrong_rewards_are_explained(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_reward(wrong)


def test_the_gaming_answers_fool_a_format_reward_but_not_the_score():
    games = checks.gaming_answers("les gâteaux")
    assert {"the article alone", "the answer repeated", "a refusal"} <= set(games) and games["a refusal"] == REFUSAL
    near = checks.near_misses("des chapeaux")
    assert near[0] == "des chapeau" and "les chapeaux" in near and "des chapeaux" not in near
    assert all(score_answer("plural", answer, "les gâteaux") < score_answer("plural", "les gâteau", "les gâteaux")
               for answer in games.values())
