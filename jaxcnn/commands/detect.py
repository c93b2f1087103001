"""PLACEHOLDER: `jaxcnn detect`; being written, replace this whole file."""


def add_parser(sub):
    p = sub.add_parser("detect", help="(not yet written)")
    p.set_defaults(run=lambda args: 2)
