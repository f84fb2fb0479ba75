// Puts the addon built from source, and the DWARF sampler's BPF object built
// with it, where node-gyp-build finds them in an installed package:
// native/prebuilds/linux-x64/ (npm pack runs this as prepack, after setup).
// N-API keeps the addon good for every Node from 20 on; the BPF object is
// CO-RE, so it does not depend on the machine's kernel headers.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const release = path.join(root, 'native', 'build', 'Release');
const target = path.join(root, 'native', 'prebuilds', `${process.platform}-${process.arch}`);

rmSync(path.join(root, 'native', 'prebuilds'), { recursive: true, force: true });
mkdirSync(target, { recursive: true });
// node-gyp-build's tags: any Node runtime (N-API), glibc.
copyFileSync(path.join(release, 'mixprof_native.node'), path.join(target, 'node.napi.glibc.node'));
copyFileSync(path.join(release, 'dwarf-sampler.bpf.o'), path.join(target, 'dwarf-sampler.bpf.o'));
console.log(`prebuild: ${path.relative(root, target)}`);
