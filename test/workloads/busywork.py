"""CPU-bound Python work for the workloads that import it (their directory is
on sys.path): crunch(n, rounds) loops `rounds` times in pure Python."""


def crunch(n, rounds):
    total = 0
    for i in range(rounds):
        total = (total * 31 + i * n) % 1000003
    return total
