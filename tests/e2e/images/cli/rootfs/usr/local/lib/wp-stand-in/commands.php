<?php
/**
 * wp stand-in: the commands (cli.php's COMMANDS), each a thin call into WordPress's own
 * functions, with wp-cli's messages and exit codes. Each returns the exit code.
 */

namespace WpStandin;

function core_version(array $args, array $assoc, array $cmd): int {
	$read = static function (string $file): string {
		include $file;  // version.php only assigns variables: keep them in this scope
		return $wp_version;
	};
	line($read($cmd['path'] . '/wp-includes/version.php'));
	return 0;
}

function core_is_installed(): int {
	return is_blog_installed() ? 0 : 1;
}

function core_install(array $args, array $a): int {
	foreach (['url', 'title', 'admin_user', 'admin_email'] as $key) {
		if (!isset($a[$key]) || !is_string($a[$key])) {
			error("Parameter errors:\n missing --$key parameter");
		}
	}
	if (is_blog_installed()) {
		line('WordPress is already installed.');
		return 0;
	}
	if (!empty($a['skip-email'])) {  // before upgrade.php declares the mailing one
		require_once __DIR__ . '/no-blog-notification.php';
		add_filter('send_site_admin_email_change_email', '__return_false');
	}
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
	$password = is_string($a['admin_password'] ?? null) && $a['admin_password'] !== ''
		? $a['admin_password'] : wp_generate_password(18);
	if (!is_email($a['admin_email'])) {
		error("The '{$a['admin_email']}' email address is invalid.");
	}
	$result = wp_install($a['title'], $a['admin_user'], $a['admin_email'], true, '', $password);
	if (is_wp_error($result)) {
		error('Installation failed (' . $result->get_error_message() . ').');
	}
	if (!empty($GLOBALS['wpdb']->last_error)) {
		error('Installation produced database errors, and may have partially or completely failed.');
	}
	if (empty($a['admin_password'])) {
		line("Admin password: {$result['password']}");
	}
	$uploads = wp_upload_dir();
	if (!empty($uploads['error'])) {
		warning($uploads['error']);
	}
	success('WordPress installed successfully.');
	return 0;
}

function core_update_db(): int {
	global $wp_db_version;
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
	$current = (int) __get_option('db_version');
	if ((int) $wp_db_version === $current) {
		success("WordPress database already at latest db version $wp_db_version.");
		return 0;
	}
	wp_upgrade();
	success("WordPress database upgraded successfully from db version $current to $wp_db_version.");
	return 0;
}

function option_get(array $args, array $a): int {
	$value = get_option($args[0]);
	if ($value === false) {
		error("Could not get '{$args[0]}' option. Does it exist?");
	}
	$format = $a['format'] ?? 'var_export';
	if ($format === 'json') {
		line(json_encode($value));
	} elseif ($format === 'var_export') {
		line(is_scalar($value) ? (string) $value : var_export($value, true));
	} else {
		unsupported("wp option get --format=$format");
	}
	return 0;
}

function option_update(array $args, array $a): int {
	[$key, $value] = $args;
	$format = $a['format'] ?? 'plaintext';
	if ($format === 'json') {
		$value = json_decode($value, true);
	} elseif ($format !== 'plaintext') {
		unsupported("wp option update --format=$format");
	}
	$value = sanitize_option($key, wp_unslash($value));
	if ($value === sanitize_option($key, get_option($key))) {
		success("Value passed for '$key' option is unchanged.");
	} elseif (update_option($key, $value)) {
		success("Updated '$key' option.");
	} else {
		error("Could not update option '$key'.");
	}
	return 0;
}

function eval_php(array $args): int {
	eval($args[0]);
	return 0;
}

require __DIR__ . '/content.php';
require __DIR__ . '/cron.php';
require __DIR__ . '/search-replace.php';
