"""PLACEHOLDER: `jaxcnn verify`; being written, replace this whole file."""


def add_parser(sub):
    p = sub.add_parser("verify", help="(not yet written)")
    p.set_defaults(run=lambda args: 2)
