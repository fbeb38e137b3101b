"""HeuBase: hand-written (and promoted, evolved) solver components, one package per problem.

HeuBase never imports the engine (`beam`): every component is a plain function
on tensors or arrays that a standalone solver can import or inline.
"""
