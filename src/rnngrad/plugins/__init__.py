"""Plugins: a researcher's own model, remedy or task, one Python file named in a study's config
(``plugins:``) and used by name like a built-in. ``protocols`` holds what each kind provides
(:class:`~rnngrad.plugins.protocols.Model`, ``GradientTransform``, ``Penalty``, ``Task``) and
``PluginError``; ``load`` imports, checks and registers them; ``probe`` runs each once on a tiny
batch. May import ``core`` and ``backends`` (a model is registered in the backends through the
registry); ``run``, ``study`` and what follows import this package, never the reverse.
docs/plugins.md is the guide.
"""
