// Path helpers shared by the workload generators: pure string functions on absolute paths
// as the generators write them.
//
// Owns: `parentOf`, `baseName`, `joinPath`, `isUnder`.
//
// Invariants: paths are absolute, '/'-separated, with no trailing '/' (except '/' itself),
// no '.' or '..' and no repeated '/'; the helpers assume that shape and do not check it.
// They never touch a file system and never resolve symbolic links: they say what a name
// is, not what it refers to.

export function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Strictly below `dir`. */
export function isUnder(path: string, dir: string): boolean {
  return dir === '/' ? path !== '/' : path.startsWith(`${dir}/`);
}
