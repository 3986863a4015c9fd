#!/usr/bin/env python3
"""Where the bed's CPU went: sorts the samples of `perf script -F comm,pid,tid,ip,sym,dso`
(with call chains, `perf record -g`) into categories, and prints each category's share and
milliseconds per step, given the CPU per step the bench measured (`loom bench --hosts`'
"CPU per step" line). deploy/bench/bed-profile.sh runs it; docs/notes/2026-12-07-bed-cpu.md.

    python3 deploy/bench/perf-categories.py OUT.script CPU_MS_PER_STEP
"""
import collections
import re
import sys


def samples(path):
    """Yields (comm, [(symbol, dso), ...] leaf first) for each sample."""
    comm, frames = None, []
    for line in open(path, errors='replace'):
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif not line[0].isspace():
            comm, frames = line.split()[0], []
        else:
            m = re.match(r'\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$', line)
            if m:
                frames.append((m.group(1), m.group(2)))
    if comm is not None:
        yield comm, frames


JSON_MARKS = ('JSON', 'ShardBodyV4from', 'ShardBodyV6encode', 'compactJSON', 'CompactReader', 'ShardBodyV7compact')
COPY_CALLERS = [  # (a Swift symbol fragment of the caller, what the copy is)
    (('ZeroMQTransportC4send', 'ZeroMQSocketC4send'), 'copy: frame into a zmq message (send)'),
    (('ZeroMQTransportC7receive', 'receiveNow'), 'copy: zmq message into a frame (receive)'),
    (('PayloadReader', 'unpackFrame'), 'copy: frame bytes into [Float] (decode)'),
    (('encode6values', 'packFrame', 'floatsFrame'), 'copy: [Float] into a frame (encode)'),
    (('RangedPieces', 'applyReadyRanges', 'takeRange', 'ShardServer'), 'copy: server keeps and sums ranges'),
    (('drainServers', 'assemble', 'ServerLink'), 'copy: worker assembles the weights'),
    (('standIn', 'StandIn', 'compute'), 'copy: stand-in gradient, parameters'),
]


def category(comm, frames):
    if not frames:
        return 'other'
    leaf, dso = frames[0]
    stack = ' '.join(f for f, _ in frames)
    io = comm.startswith('ZMQ')   # ZeroMQ's I/O threads
    if 'sodium' in dso:
        return 'CURVE: libsodium (encrypt, decrypt)'
    if 'kernel' in dso:
        if leaf in ('_copy_from_iter', '_copy_to_iter', 'copy_user_enhanced_fast_string', 'rep_movs_alternative'):
            return 'kernel: copies between user and socket buffers'
        if any(k in stack for k in ('finish_task_switch', 'schedule', 'futex', 'try_to_wake', '_raw_spin_unlock_irq', 'ttwu')):
            return 'kernel: context switches, wake-ups'
        if any(k in stack for k in ('tcp_', 'ip_', 'veth', 'netif', 'sock_', 'skb', 'dev_', 'sch_', 'tbf', 'br_', 'net_rx', 'napi', 'softirq')):
            return 'kernel: TCP/IP, veth, bridge, tc'
        if any(k in stack for k in ('epoll', 'poll', 'eventfd')):
            return 'kernel: poll, epoll, eventfd'
        return 'kernel: other (system call entry, timers)'
    if not io and any('Foundation' in d or any(k in f for k in JSON_MARKS) for f, d in frames):
        return 'JSON headers of shard messages (and the runtime under them)'
    if any(k in leaf for k in ('memmove', 'memcpy', 'memset')):
        if io:
            return "libzmq: its own copies (CURVE's boxes, batching)"
        for marks, what in COPY_CALLERS:
            if any(any(m in f for m in marks) for f, _ in frames[1:]):
                return what
        return 'copy: other'
    if 'all_finite' in leaf:
        return 'finiteness checks (R12)'
    if 'sum_into' in leaf:
        return 'summation (servers)'
    if any(k in leaf.lower() for k in ('sgd', 'adam')):
        return 'optimizer'
    if 'zmq' in dso:
        return 'libzmq: protocol, queues'
    if io:
        return 'libzmq threads: libc, malloc'
    if 'malloc' in leaf or 'free' in leaf:
        return 'malloc, free'
    if 'swiftCore' in dso or leaf.startswith('swift_'):
        return 'Swift runtime (retain, release, metadata)'
    return 'other user code'


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cpu = float(sys.argv[2])
    counts = collections.Counter(category(c, f) for c, f in samples(sys.argv[1]))
    total = sum(counts.values())
    if total == 0:
        sys.exit('no samples in ' + sys.argv[1])
    print(f'| where ({total} samples; {cpu} ms of CPU per step) | share | ms per step |')
    print('| --- | --- | --- |')
    for what, n in counts.most_common():
        print(f'| {what} | {100 * n / total:.1f}% | {cpu * n / total:.1f} |')


if __name__ == '__main__':
    main()
