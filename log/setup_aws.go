package log

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	taws "github.com/transparency-dev/tessera/storage/aws"
)

// Bucket names where Tessera's AWS storage keeps a log's tiles, entry
// bundles and checkpoint: an S3 bucket, or a bucket of any S3-compatible
// object store.
type Bucket struct {
	// Name is the bucket's name; the bucket must exist.
	Name string
	// Prefix, when set, is prepended to every object name, so that one
	// bucket can hold several logs.
	Prefix string
	// Endpoint is the URL of an S3-compatible object store, addressed with
	// path-style requests (http://host:port/bucket/object). Empty means
	// Amazon S3 itself, found from the region.
	Endpoint string
	// Region is the bucket's region. Empty means the AWS SDK's default
	// (AWS_REGION, the shared configuration), or "us-east-1" for an
	// S3-compatible store.
	Region string
	// Credentials, when set, sign the requests to the bucket instead of
	// the AWS SDK's default credentials.
	Credentials aws.CredentialsProvider
}

// SetupAWS prepares a log on Tessera's AWS storage: a MySQL-compatible
// database (Aurora, MySQL, MariaDB) sequences the entries and holds the
// records, keys and lookup index, and the bucket holds the tiles, entry
// bundles and checkpoint, ready to be served to readers as they are.
// Credentials for the bucket come from the AWS SDK's usual places (the
// environment's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the shared
// configuration, an instance role). The checkpoint key stays in dir, as
// with SetupMySQL; front ends of one log share the key, the database and
// the bucket. The caller keeps CheckpointInterval at
// MySQLMinCheckpointInterval or more.
func SetupAWS(ctx context.Context, dir, dsn string, b Bucket, origin string) (Config, error) {
	if b.Name == "" {
		return Config{}, errors.New("the S3 storage needs a bucket name")
	}
	if b.Endpoint != "" {
		u, err := url.Parse(b.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("S3 endpoint %q: want an http:// or https:// URL", b.Endpoint)
		}
	}
	db, err := openMySQLDB(dsn)
	if err != nil {
		return Config{}, err
	}
	cfg, err := setupAWS(ctx, dir, dsn, db, b, origin)
	if err != nil {
		db.Close()
	}
	return cfg, err
}

func setupAWS(ctx context.Context, dir, dsn string, db *sql.DB, b Bucket, origin string) (Config, error) {
	// Tessera's sequencer creates its own tables (SeqCoord, Seq, ...)
	// beside the store's in the same database. A database sequences one
	// log into one bucket: refuse another bucket, or a database that held
	// a log on Tessera's MySQL storage.
	cfg, err := openDatabaseLog(ctx, dir, db, origin, b.describe())
	if err != nil {
		return Config{}, err
	}
	tcfg := taws.Config{Bucket: b.Name, BucketPrefix: b.Prefix, DSN: dsn,
		MaxOpenConns: mysqlConns, MaxIdleConns: mysqlConns}
	if b.Endpoint != "" || b.Region != "" || b.Credentials != nil {
		sdk, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return Config{}, fmt.Errorf("AWS configuration: %v", err)
		}
		if b.Region != "" {
			sdk.Region = b.Region
		} else if sdk.Region == "" {
			sdk.Region = "us-east-1"
		}
		if b.Credentials != nil {
			sdk.Credentials = b.Credentials
		}
		tcfg.SDKConfig = &sdk
		tcfg.S3Options = func(o *s3.Options) {
			if b.Endpoint != "" {
				o.BaseEndpoint = aws.String(b.Endpoint)
				o.UsePathStyle = true
			}
		}
	}
	driver, err := taws.New(ctx, tcfg)
	if err != nil {
		return Config{}, fmt.Errorf("tessera AWS storage: %v", err)
	}
	cfg.Driver = driver
	return cfg, nil
}

// describe names where the tiles live, for the database's record of it.
// The endpoint is not part of it: a bucket may move to another address.
func (b Bucket) describe() string { return "s3://" + b.Name + "/" + b.Prefix }
