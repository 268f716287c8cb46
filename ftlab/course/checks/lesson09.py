"""Self-checks for lesson 09's exercises (a chat assistant with TRL): each says what is wrong and how to fix it."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from ftlab.course.checks.core import ExerciseCheckError, call_safely, passed, require
from ftlab.labs import assistant
from ftlab.labs.instructions import REFUSAL, SYSTEM, score_answer

END = assistant.END
GENERATION_PROMPT = "<|assistant|>\n"
_PLURAL = 'Write "le gâteau" in the plural.'
_CONTEXT = "Context: The hat is red. The bag is blue.\nQuestion: What colour is the hat?"

# The chats the template check renders: every role, a system message, two assistant turns, a newline in a request.
TEMPLATE_CHATS: list[tuple[str, list[dict[str, str]]]] = [
    ("a request and its answer", [{"role": "user", "content": _PLURAL},
                                  {"role": "assistant", "content": "les gâteaux"}]),
    ("a chat with a system message", [{"role": "system", "content": SYSTEM},
                                      {"role": "user", "content": "Translate into French: I would like a coffee."},
                                      {"role": "assistant", "content": "Je voudrais un café."}]),
    ("a chat with two assistant turns", [{"role": "user", "content": _PLURAL},
                                         {"role": "assistant", "content": "les gâteaux"},
                                         {"role": "user", "content": 'Write "gâteau" with un or une.'},
                                         {"role": "assistant", "content": "un gâteau"}]),
    ("a request with a newline in it", [{"role": "user", "content": _CONTEXT},
                                        {"role": "assistant", "content": "The hat is red."}]),
]
_FORMAT = ("each message is its role token (<|user|>, <|assistant|>, <|system|>), a newline, the content, <|end|>, "
           "a newline")


def _render(tokenizer, messages, what: str, **options) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, **options)
    except Exception as err:  # a Jinja syntax error, or a template that raises
        raise ExerciseCheckError(f"your template fails on {what}: {type(err).__name__}: {err}") from None


def _first_difference(got: str, expected: str) -> str:
    at = next((k for k, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    return f"they part at character {at}: yours has {got[at:at + 20]!r}, the course's {expected[at:at + 20]!r}"


def _roles(tokens: Sequence[str]) -> list[str]:
    """The role of the turn each token is in (the last role token at or before it)."""
    current, roles = "", []
    for token in tokens:
        for role, role_token in assistant.ROLE_TOKENS.items():
            if token == role_token:
                current = role
        roles.append(current)
    return roles


def _mask_problem(tokens: Sequence[str], got: Sequence[bool], expected: Sequence[bool], what: str) -> str:
    """A sentence about the first token whose mask is wrong, and how to move the {% generation %} block."""
    i = next(k for k, (a, b) in enumerate(zip(got, expected)) if a != b)
    token, before = tokens[i], tokens[i - 1] if i else ""
    role = _roles(tokens)[i]
    place = f"In {what}, token {i} ({token!r})"
    if not any(got):
        return (f"In {what}, no token is marked for the loss: put each assistant answer and its {END} inside "
                f"{{% generation %}} … {{% endgeneration %}}")
    if got[i]:  # trained on, but should not be
        if token == assistant.ROLE_TOKENS["assistant"]:
            return (f"{place} is trained on, but the model never has to write it: the generation prompt puts it "
                    f"there before every answer. Open {{% generation %}} after the role token and its newline")
        if token == "\\n" and before == assistant.ROLE_TOKENS["assistant"]:
            return (f"{place}, the newline after <|assistant|>, is trained on, but the generation prompt writes it "
                    f"('<|assistant|>\\n'). Open {{% generation %}} after it")
        if token == "\\n" and before == END:
            return (f"{place}, the newline after {END}, is trained on, but generation stops at {END}: the model never "
                    f"writes it. Close the block ({{% endgeneration %}}) right after {END}")
        if role in ("user", "system"):
            return (f"{place} belongs to the {role}'s message and is trained on: the model would learn to write the "
                    f"{role}'s words. Only the assistant's answers (and their {END}) go inside {{% generation %}}")
        return f"{place} is trained on but should not be: only the assistant's answers and their {END} are"
    if token == END:
        return (f"{place}, the {END} after the assistant's answer, is not trained on: the model never learns to end "
                f"its turn and writes on until max_new_tokens. Put {END} inside the {{% generation %}} block")
    return (f"{place} is part of the assistant's answer but is not trained on: the whole answer goes inside "
            f"{{% generation %}} … {{% endgeneration %}}")


def check_chat_template(template: Any, model: str = "tiny-gpt2") -> None:
    """Exercise 09.1: `template` renders the course's chat format, the loss mask covers exactly each assistant answer
    and its END, and the generation prompt ends with '<|assistant|>\\n'.

    A fresh chat model's tokenizer (`assistant.load_chat_model(model)`) renders the chats of TEMPLATE_CHATS with the
    course's template and with yours; the two must agree character by character and mask by mask.
    """
    require(isinstance(template, str) and template.strip(),
            f"the template should be a Jinja program in a string, got {type(template).__name__}")
    require(re.search(r"\{%-?\s*generation\s*-?%\}", template) is not None, "your template has no {% generation %} … {% endgeneration %} block: without "
                                      "it no token is marked, and TRL's assistant_only_loss has nothing to train on")
    _, tokenizer = assistant.load_chat_model(model, device="cpu")
    expected = {}
    for what, messages in TEMPLATE_CHATS:
        expected[what] = (tokenizer.apply_chat_template(messages, tokenize=False),
                          assistant.assistant_mask_table(tokenizer, messages),
                          tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True),
                          tokenizer.apply_chat_template(messages[:-1], tokenize=False))
    tokenizer.chat_template = template
    for what, messages in TEMPLATE_CHATS:
        text, table, prompt, unprompted = expected[what]
        yours = _render(tokenizer, messages, what)
        require(yours == text, f"your template renders {what} as {yours!r}, but the course's format gives {text!r} "
                               f"({_first_difference(yours, text)}). The format: {_FORMAT}; only the "
                               f"{{% generation %}} markers should move")
        try:
            mask = assistant.assistant_mask_table(tokenizer, messages)
        except Exception as err:
            raise ExerciseCheckError(f"the loss mask of {what} could not be computed: {type(err).__name__}: {err}") \
                from None
        got, right = [bool(m) for m in mask["is_assistant"]], [bool(m) for m in table["is_assistant"]]
        if got != right:
            raise ExerciseCheckError(_mask_problem(list(table["token"]), got, right, what))
        yours = _render(tokenizer, messages[:-1], what, add_generation_prompt=True)
        require(yours.endswith(GENERATION_PROMPT),
                f"with add_generation_prompt=True your template ends {what} (without its last answer) with "
                f"{yours[-24:]!r}; it should end with '<|assistant|>\\n', so that the model writes the answer next")
        require(yours == prompt, f"with add_generation_prompt=True your template renders {what} (without its last "
                                 f"answer) as {yours!r}, the course's as {prompt!r}")
        yours = _render(tokenizer, messages[:-1], what)
        require(yours == unprompted, f"without add_generation_prompt your template renders {what} (without its last "
                                     f"answer) as {yours!r}; it should stop after the user's {END}, as {unprompted!r}: "
                                     f"write '<|assistant|>\\n' only `{{% if add_generation_prompt %}}`")
    passed(f"your template renders the course's format; on {len(TEMPLATE_CHATS)} chats the loss falls on each "
           f"answer and its {END}, nothing else; the generation prompt ends with '<|assistant|>\\n'")


# Exercise 2: preference pairs.

def _chat(user: str, system: bool = False) -> list[dict[str, str]]:
    return ([{"role": "system", "content": SYSTEM}] if system else []) + [{"role": "user", "content": user}]


def _case(what: str, prompt: list[dict], task: str, reference: str, answers: list[str]) -> dict:
    return dict(what=what, prompt=prompt, task=task, reference=reference, answers=answers,
                scores=[score_answer(task, a, reference) for a in answers])


PAIR_CASES: list[dict] = [
    _case("four answers of different quality", _chat(_PLURAL), "plural", "les gâteaux",
          ["le gâteau", "les gâteaux", "des", "les gâteau"]),
    _case("three answers that are all right (a tie)", _chat("Write a poem about the cake."), "refusal", REFUSAL,
          [REFUSAL, REFUSAL, REFUSAL]),
    _case("two answers, each sampled twice", _chat(_PLURAL), "plural", "les gâteaux",
          ["des", "les gâteaux", "des", "les gâteaux"]),
    _case("a chat with a system message, the better answer last", _chat(_PLURAL, system=True), "plural",
          "les gâteaux", ["le gâteau", "les gâteaux"]),
]


def _message_list(value: Any, name: str, call: str) -> str:
    """The content of `value` if it is [{'role': 'assistant', 'content': text}], else an error saying what it is."""
    form = f"[{{'role': 'assistant', 'content': answer}}]"
    if isinstance(value, str):
        raise ExerciseCheckError(f"{call}: {name} is the text {value!r}; TRL's conversational format wants a list "
                                 f"of messages, {form}")
    ok = (isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], Mapping)
          and set(value[0]) == {"role", "content"} and value[0]["role"] == "assistant"
          and isinstance(value[0]["content"], str))
    require(ok, f"{call}: {name} should be one assistant message in a list, {form}; got {value!r}")
    return value[0]["content"]


def _checked_pairs(to_pairs: Callable, prompt: list[dict], answers: list[str], scores: list[float],
                   what: str) -> list[Mapping]:
    """Call `to_pairs` on one prompt's answers and check every pair it makes (format and rule)."""
    call = f"to_pairs on {what}"
    given = copy.deepcopy(prompt)
    result = call_safely(to_pairs, copy.deepcopy(prompt), list(answers), list(scores), what=call)
    require(result is not None, f"{call} returned None: return a list of pairs (an empty list when there is none)")
    require(not isinstance(result, (Mapping, str)) and isinstance(result, Sequence),
            f"{call} returned a {type(result).__name__}; return a list of pairs, e.g. [pair], even for one pair")
    score_of = dict(zip(answers, scores))
    for pair in result:
        require(isinstance(pair, Mapping) and {"prompt", "chosen", "rejected"} <= set(pair),
                f"{call}: each pair should be a dict with 'prompt', 'chosen' and 'rejected' (TRL's preference "
                f"format); got {pair!r}")
        require(pair["prompt"] == given,
                f"{call}: 'prompt' should be the chat's messages as given, {given!r}, got {pair['prompt']!r}. TRL "
                f"renders it with the chat template and adds the generation prompt itself")
        chosen = _message_list(pair["chosen"], "'chosen'", call)
        rejected = _message_list(pair["rejected"], "'rejected'", call)
        for name, text in (("chosen", chosen), ("rejected", rejected)):
            require(text in score_of, f"{call}: the {name} answer {text!r} is not one of the sampled answers "
                                      f"{list(answers)!r}")
        better, worse = score_of[chosen], score_of[rejected]
        require(better != worse, f"{call}: {chosen!r} and {rejected!r} both score {better:.3f}, a tie: it tells DPO "
                                 f"nothing about which answer is better. Drop ties")
        require(better > worse, f"{call}: the chosen answer {chosen!r} scores {better:.3f}, less than the rejected "
                                f"{rejected!r} ({worse:.3f}): chosen is the one with the higher score")
    if max(scores) > min(scores):
        require(len(result) > 0, f"{call}: the answers score {[round(s, 3) for s in scores]}, so at least one pair "
                                 f"has a strictly better answer, but to_pairs made none")
    return list(result)


def check_preference_pairs(to_pairs: Callable, groups: Sequence[Mapping] = ()) -> None:
    """Exercise 09.2: `to_pairs(prompt, answers, scores)` turns one prompt's scored answers into DPO pairs.

    It runs on the hand-made PAIR_CASES, then on `groups` (dicts with 'prompt', 'answers', 'scores', as the notebook
    builds them). Every pair must be in TRL's conversational preference format, with a chosen answer that scores
    strictly higher than the rejected one; ties give no pair, and a prompt whose answers differ gives at least one.
    """
    for case in PAIR_CASES:
        _checked_pairs(to_pairs, case["prompt"], case["answers"], case["scores"], case["what"])
    made = sum(len(_checked_pairs(to_pairs, group["prompt"], group["answers"], group["scores"],
                                  f"the prompt {group['prompt'][-1]['content']!r}"))
               for group in groups)
    require(not groups or made > 0, f"to_pairs made no pair from the {len(groups)} prompts' answers")
    where = f"; from the notebook's {len(groups)} prompts it makes {made} pairs" if groups else ""
    passed(f"to_pairs keeps TRL's conversational preference format, chooses the better-scored answer and drops "
           f"ties{where}")


RULES = ("best vs worst", "best vs second best")


def rule_pairs(groups: Sequence[Mapping], rule: str) -> list[dict]:
    """The (chosen score, rejected score) of each prompt's pair under `rule` (one of RULES): the best answer against
    the worst, or against the best of those that score strictly lower. Prompts whose answers all tie give none."""
    require(rule in RULES, f"rule should be one of {list(RULES)}, got {rule!r}")
    out = []
    for group in groups:
        distinct = sorted(set(group["scores"]), reverse=True)
        if len(distinct) > 1:
            out.append(dict(chosen=distinct[0], rejected=distinct[-1] if rule == RULES[0] else distinct[1]))
    return out


def check_clearer_rule(clearer: Any, groups: Sequence[Mapping]) -> None:
    """Exercise 09.2: `clearer` is the rule (of RULES) whose pairs differ more in score, on average, in `groups`."""
    require(clearer in RULES, f"clearer should be one of {list(RULES)}, got {clearer!r}")
    gaps = {rule: [p["chosen"] - p["rejected"] for p in rule_pairs(groups, rule)] for rule in RULES}
    require(all(gaps.values()), "no prompt has answers of different scores: there are no pairs to compare")
    mean = {rule: sum(g) / len(g) for rule, g in gaps.items()}
    best = max(RULES, key=mean.get)
    said = ", ".join(f"{rule}: {mean[rule]:.3f}" for rule in RULES)
    require(mean[clearer] >= mean[best],
            f"the mean score gap between chosen and rejected is {said}. A small gap may be the score's noise "
            f"(chrF's partial credit) rather than a better answer; the rule with the wider gaps gives DPO the "
            f"clearer signal")
    passed(f"{clearer} gives the pairs with the wider score gaps (mean gap {said})")


# Exercise 3: a reward for the plural task.

REWARD_REQUESTS = [('Write "le gâteau" in the plural.', "les gâteaux"),
                   ('Write "un chapeau" in the plural.', "des chapeaux")]


def near_misses(reference: str) -> list[str]:
    """Honest answers that are not quite right: a letter missing, the wrong article, the singular article, no
    article. None is exactly right, so a 0/1 reward gives them all the same reward."""
    article, noun = reference.split(" ", 1)
    other = "des" if article == "les" else "les"
    return [f"{article} {noun[:-1]}", f"{other} {noun}", f"{article[:-1]} {noun}", noun]


def gaming_answers(reference: str) -> dict[str, str]:
    """Answers that game a careless reward, by the trick they use."""
    article, _ = reference.split(" ", 1)
    return {"the article alone": article,
            "the article repeated": " ".join([article] * 8),
            "the answer repeated": " ".join([reference] * 4),
            "a list of plurals": f"{reference}, {article} hôtels, {article} gares, {article} bières, {article} parcs",
            "the answer in a long sentence": f"{reference} sont sur la table et les enfants les mangent avec leurs amis",
            "a refusal": REFUSAL,
            "nothing": ""}


def _rewards(reward: Callable, request: str, reference: str, answers: list[str], what: str) -> list[float]:
    n = len(answers)
    prompt = [{"role": "user", "content": request}]
    kwargs = dict(prompts=[prompt] * n, completions=[[{"role": "assistant", "content": a}] for a in answers],
                  completion_ids=[[0]] * n, task=["plural"] * n, reference=[reference] * n,
                  pairing=["plural/check"] * n, trainer_state=None)
    try:
        values = reward(**kwargs)
    except NotImplementedError:
        raise ExerciseCheckError("the reward is not written yet: replace the `raise NotImplementedError` line with "
                                 "your code and run its cell again") from None
    except TypeError as err:
        raise ExerciseCheckError(f"the reward raised TypeError: {err}. TRL calls it with keywords: prompts, "
                                 f"completions, completion_ids, the data set's columns (task, reference, pairing) and "
                                 f"trainer_state; take the ones you need by name and end with **kwargs") from err
    except Exception as err:
        raise ExerciseCheckError(f"the reward raised {type(err).__name__} on {what}: {err}. Each completion is a "
                                 f"list of messages: its text is completion[0]['content']") from err
    require(values is not None and not isinstance(values, (str, Mapping)) and hasattr(values, "__len__"),
            f"the reward should return a list of numbers, one per completion; got {values!r}")
    require(len(values) == n, f"the reward returned {len(values)} values for {n} completions ({what}): one per "
                              f"completion, in order")
    out = []
    for answer, value in zip(answers, values):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ExerciseCheckError(f"the reward of {answer!r} is {value!r}, not a number") from None
        require(math.isfinite(value) and 0 <= value <= 1,
                f"the reward of {answer!r} is {value}: keep every reward between 0 and 1")
        out.append(value)
    return out


def check_reward(reward: Callable) -> None:
    """Exercise 09.3: a GRPO reward for the plural task, with TRL's signature, that is not fooled.

    On two requests (one plural with 'les', one with 'des'): one float in [0, 1] per completion; the right answer
    earns more than each near miss; the near misses, none of them exactly right, do not all earn the same (GRPO needs
    a spread within a group); every gaming answer earns less than the right answer and less than the near miss with
    one letter missing.
    """
    require(callable(reward), f"pass the reward function itself, got {type(reward).__name__}")
    for request, reference in REWARD_REQUESTS:
        misses = near_misses(reference)
        honest = _rewards(reward, request, reference, [reference, *misses], f"the answers to {request!r}")
        right, missed = honest[0], honest[1:]
        for answer, value in zip(misses, missed):
            require(right > value, f"the right answer {reference!r} earns {right:.3f} and {answer!r} {value:.3f}: "
                                   f"the right answer should earn more than any wrong one")
        require(len(set(missed)) > 1,
                f"the near misses {misses} (none exactly right) all earn {missed[0]:.3f}. When every answer sampled "
                f"for a prompt earns the same, GRPO's advantages are zero and the step teaches nothing: give partial "
                f"credit (the right article, the right noun)")
        games = gaming_answers(reference)
        gamed = _rewards(reward, request, reference, list(games.values()), "gaming answers")
        for (trick, answer), value in zip(games.items(), gamed):
            require(value < right and value < missed[0],
                    f"{trick} ({answer!r}) earns {value:.3f}, at least as much as "
                    f"{'the right answer' if value >= right else repr(misses[0])} ({min(right, missed[0]):.3f}). "
                    f"GRPO would learn to write it: reward what the answer says, not its length, its first word or "
                    f"whether it contains the reference")
    passed(f"one reward in [0, 1] per completion; the right plural earns most, near misses earn different partial "
           f"credit, and none of the {len(gaming_answers('les x'))} gaming answers fools it, with les or with des")
