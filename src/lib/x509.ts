import { createHash, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
  AuthorityKeyIdentifier,
  KeyIdentifier,
  id_kp_serverAuth,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';

/** ecdsa-with-SHA256 (RFC 5758): the keys are P-256 (`generateKeyPairSync('ec', {namedCurve: 'P-256'})`). */
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';

export interface CertificateRequest {
  /** The subject's common name. */
  commonName: string;
  /** The public key the certificate is for. */
  publicKey: KeyObject;
  /** The issuer: its name and private key; none for a self-signed certificate (a CA's own). */
  issuer?: { certificate: string; privateKey: KeyObject };
  /** The private key that signs a self-signed certificate (the subject's own). */
  selfKey?: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate (may sign certificates, not serve TLS); else a TLS server certificate with these names. */
  ca?: boolean;
  /** Host names and IP addresses the server certificate is valid for. */
  altNames?: string[];
}

const name = (commonName: string) =>
  new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: COMMON_NAME, value: new AttributeValue({ utf8String: commonName }) }),
    ]),
  ]);

const extension = (extnID: string, critical: boolean, value: unknown) =>
  new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

/** The key identifier of RFC 5280 §4.2.1.2 (1): sha1 of the public key's bits. */
const keyId = (spki: SubjectPublicKeyInfo) =>
  new KeyIdentifier(createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest());

const asGeneralName = (altName: string) =>
  new GeneralName(isIP(altName) ? { iPAddress: altName } : { dNSName: altName });

/**
 * A PEM X.509 v3 certificate, signed with ECDSA P-256 / SHA-256 by the issuer (or by `selfKey`). Only what a private
 * CA and its TLS server certificate need: basic constraints, key usage, server auth, subject alternative names and
 * key identifiers (which OpenSSL uses to find the issuer).
 */
export function issueCertificate(request: CertificateRequest): string {
  const spki = AsnConvert.parse(request.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  const issuerCert = request.issuer && new X509Certificate(request.issuer.certificate);
  const issuerSpki = issuerCert
    ? AsnConvert.parse(issuerCert.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo)
    : spki;
  const signer = request.issuer?.privateKey ?? request.selfKey;
  if (!signer) throw new Error('issueCertificate: an issuer or selfKey is needed');
  const issuerName = issuerCert
    ? AsnConvert.parse(issuerCert.raw, Certificate).tbsCertificate.subject
    : name(request.commonName);
  const extensions = [
    extension(id_ce_basicConstraints, true, new BasicConstraints(request.ca ? { cA: true, pathLenConstraint: 0 } : {})),
    extension(
      id_ce_keyUsage,
      true,
      new KeyUsage(
        request.ca ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign : KeyUsageFlags.digitalSignature,
      ),
    ),
    extension(id_ce_subjectKeyIdentifier, false, keyId(spki)),
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: keyId(issuerSpki) }),
    ),
  ];
  if (!request.ca) {
    extensions.push(extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth])));
    extensions.push(
      extension(id_ce_subjectAltName, false, new SubjectAlternativeName((request.altNames ?? []).map(asGeneralName))),
    );
  }
  const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_SHA256 });
  // A positive serial of 16 random bytes (the top bit cleared: DER integers are signed).
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40;
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: algorithm,
    issuer: issuerName,
    validity: new Validity({ notBefore: request.notBefore, notAfter: request.notAfter }),
    subject: name(request.commonName),
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(extensions),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign('sha256', tbsDer, { key: signer, dsaEncoding: 'der' });
  const der = Buffer.from(
    AsnConvert.serialize(
      new Certificate({
        tbsCertificate: tbs,
        signatureAlgorithm: algorithm,
        signatureValue: new Uint8Array(signature).buffer,
      }),
    ),
  );
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** `sha256:` and the lowercase hex sha256 of a certificate's DER, as join tokens carry it and the controller logs it. */
export function certificateFingerprint(pem: string): string {
  return `sha256:${createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')}`;
}
