import { nodeCluster } from './cluster.js';
import { hypnode, hypnodeAdmin, hypnodeUnbalanced } from './hypnode.js';
import { hypnotoad } from './hypnotoad.js';
import { bareNode } from './node.js';
import { pm2 } from './pm2.js';
import type { Contender } from './types.js';

export const CONTENDERS: readonly Contender[] = [bareNode, nodeCluster('rr'), nodeCluster('none'), pm2(false), pm2(true), hypnotoad, hypnode, hypnodeAdmin, hypnodeUnbalanced];
