"""The base class a model folder's model.py subclasses."""


class RefitModel:
    """A model Refit can build and serve.

    The build runner creates the subclass with no arguments, calls :meth:`build`, and pickles the
    instance, so everything ``build()`` stores on ``self`` is what the server gets back. Whatever cannot
    be pickled (locks, open files, clients) belongs in :meth:`initialize_model` instead, which the
    server calls once after unpickling.
    """

    def build(self) -> None:
        """Train the model and log its evaluation metrics with ``refit_sdk.log_metrics``."""
        raise NotImplementedError(
            f"{type(self).__name__}.build() is not implemented: override build() to train the model "
            "and log its metrics"
        )

    def initialize_model(self) -> None:
        """Prepare for serving; called once, after unpickling and before the first request."""

    def predict(self, inputs):
        """Return one prediction per input row.

        ``inputs`` is the list of rows of the request's single input tensor, or a dict from input name
        to rows when the request has several inputs. With ``--workers`` above 1 the server calls this
        from several threads at once.
        """
        raise NotImplementedError(
            f"{type(self).__name__}.predict() is not implemented: override predict(inputs) to return "
            "one prediction per input row"
        )
