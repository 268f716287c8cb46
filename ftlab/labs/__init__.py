"""Code that exists for one lesson's experiments: `pitfalls` (lesson 06), `generative` (lesson 07's tiny GPT-2:
prompts, masking, decoding, scores), `phrasebook` (the English–French data lesson 07 generates), `instructions`
(lesson 09's chats with answers code can check) and `assistant` (lesson 09's chat template, TRL set-up, DPO pairs
and GRPO rewards).

A lab may use everything below it (the library and `ftlab.training`); nothing in the library imports a lab.
"""
