// GetCallerIdentity with the AWS SDK for JavaScript v3 and its default credential chain, unmodified:
// whatever the environment says (container endpoint, instance metadata, credential_process in a
// config file, web identity token file) is where the credentials come from. Prints one JSON line.
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";

const client = new STSClient({ region: "us-east-1", endpoint: process.env.TESSERA_URL, maxAttempts: 1 });
const identity = await client.send(new GetCallerIdentityCommand({}));
const credentials = await client.config.credentials();
console.log(JSON.stringify({ Arn: identity.Arn, AccessKeyId: credentials.accessKeyId }));
