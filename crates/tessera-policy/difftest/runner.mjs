// Decides identity-policy cases with @cloud-copilot/iam-simulate, for tests/difftest.rs.
//
// Reads one JSON case a line on stdin and writes one JSON answer a line on stdout, in order:
//   in:  {"identity": [policy, ...], "boundary": [policy, ...], "principal": "arn:...",
//         "action": "s3:GetObject", "resource": "arn:...", "account": "123456789012",
//         "context": {"key": "value" | ["v1", "v2"]}}
//   out: {"decision": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Invalid" | "Error",
//         "detail": "..."}
// "Invalid" means the package's identity-policy validator rejected a policy; "Error" that the
// engine threw. One process serves every case of a run.
import { createInterface } from 'node:readline';
import { validateIdentityPolicy } from '@cloud-copilot/iam-policy';
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';

function decide(c) {
  const policies = [...c.identity, ...c.boundary];
  for (const policy of policies) {
    const errors = validateIdentityPolicy(policy);
    if (errors.length > 0) {
      return { decision: 'Invalid', detail: errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
    }
  }
  const simulation = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.account },
      contextVariables: c.context,
    },
    identityPolicies: c.identity.map((policy, i) => ({ name: `identity${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    permissionBoundaryPolicies: c.boundary.length
      ? c.boundary.map((policy, i) => ({ name: `boundary${i}`, policy }))
      : undefined,
  };
  return { decision: runUnsafeSimulation(simulation, {}) };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = decide(JSON.parse(line));
  } catch (error) {
    answer = { decision: 'Error', detail: String(error && error.message ? error.message : error) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
