"""Code that exists for one lesson's experiments: `pitfalls` (lesson 06), `generative` (lesson 07's tiny GPT-2:
prompts, masking, decoding, scores) and `phrasebook` (the English–French data lesson 07 generates).

A lab may use everything below it (the library and `ftlab.training`); nothing in the library imports a lab.
"""
